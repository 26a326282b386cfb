using System.CommandLine;
using System.Text.Json;
using Sharpformer.Generation;
using Sharpformer.IO;
using Sharpformer.Pipelines;

namespace Sharpformer.Cli;

/// <summary>`sharpformer text2text`: summarize / translate / rewrite an input with an encoder-decoder (BART, T5).</summary>
internal static class Text2TextCommand
{
    public static Command Create(TextWriter output)
    {
        var input = new Argument<string?>("INPUT") { Description = "text for the encoder, e.g. \"summarize: ...\"", Arity = ArgumentArity.ZeroOrOne };
        var model = CommandLine.ModelOption("encoder-decoder model folder or Hugging Face model id (BART, T5)");
        var inputIds = new Option<string?>("--input-ids") { Description = "encoder input as token ids, e.g. 1,2,3 (instead of INPUT; needs no tokenizer)" };
        var flags = new GenerationFlags();
        var json = CommandLine.JsonOption();
        var dtype = CommandLine.DTypeOption();
        var command = new Command("text2text", "Generate an output text from an input text with an encoder-decoder model (BART, T5)")
        {
            input, model, inputIds, json, dtype,
        };
        flags.AddTo(command);
        command.SetAction(parse =>
        {
            string? text = parse.GetValue(input);
            string? idsText = parse.GetValue(inputIds);
            if ((text is null) == (idsText is null))
            {
                throw new ArgumentException("give either INPUT or --input-ids (exactly one)");
            }
            var options = flags.Read(parse);
            string modelName = parse.GetValue(model)!;
            if (!IsEncoderDecoder(modelName))
            {
                throw new ArgumentException($"{modelName} is a decoder-only model: use `sharpformer generate`, not text2text");
            }
            using var generator = Text2TextGenerator.Load(modelName, CommandLine.ReadDType(parse, dtype));
            if (options.StopStrings is not null && generator.Tokenizer is null)
            {
                throw new ArgumentException("--stop needs the model's tokenizer, which could not be loaded");
            }
            options.Validate();
            int[] ids = idsText is not null ? CommandLine.ParseIdRows(idsText, "--input-ids").Single() : generator.EncodeInput(text!);
            var result = generator.GenerateIds(ids, options);
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new Text2TextJson(result.InputIds, result.GeneratedIds, result.Text),
                    CliJson.Options.GetTypeInfo<Text2TextJson>()));
            }
            else
            {
                // Without a tokenizer the ids are the output.
                output.WriteLine(result.Text ?? string.Join(',', result.GeneratedIds));
            }
            return 0;
        });
        return command;
    }

    /// <summary>Reads config.json only ("is_encoder_decoder"), so the wrong verb is pointed out before tokenizer or weights load.</summary>
    internal static bool IsEncoderDecoder(string folderOrModelId)
    {
        string folder = ModelLocator.Resolve(folderOrModelId);
        string config = Path.Combine(folder, "config.json");
        return File.Exists(config) && HfConfig.Load(config).GetBool("is_encoder_decoder", false);
    }
}
