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
        var maxNewTokens = new Option<int>("--max-new-tokens", "-n") { Description = "most tokens to generate", DefaultValueFactory = _ => 32 };
        var temperature = new Option<float?>("--temperature", "-t") { Description = "sampling temperature; 0 means greedy (default: greedy)" };
        var topK = new Option<int>("--top-k") { Description = "sample from the k most likely tokens (0 = off)", DefaultValueFactory = _ => 50 };
        var topP = new Option<float>("--top-p") { Description = "nucleus sampling: smallest set of tokens with this probability mass", DefaultValueFactory = _ => 1f };
        var minP = new Option<float>("--min-p") { Description = "drop tokens below min-p × the top token's probability (0 = off)" };
        var repetitionPenalty = new Option<float>("--repetition-penalty") { Description = "penalize tokens already present (1 = off)", DefaultValueFactory = _ => 1f };
        var noRepeat = new Option<int>("--no-repeat-ngram-size") { Description = "forbid repeating any n-gram of this size (0 = off)" };
        var numBeams = new Option<int>("--num-beams") { Description = "beam search width (1 = no beam search)", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong?>("--seed") { Description = "seed for sampling, for reproducible output" };
        var lengthPenalty = new Option<float>("--length-penalty") { Description = "beam score = log-prob sum / length^penalty", DefaultValueFactory = _ => 1f };
        var stop = new Option<string[]>("--stop") { Description = "stop when the text contains this string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var json = CommandLine.JsonOption();
        var command = new Command("text2text", "Generate an output text from an input text with an encoder-decoder model (BART, T5)")
        {
            input, model, inputIds, maxNewTokens, temperature, topK, topP, minP, repetitionPenalty, noRepeat, numBeams, seed, lengthPenalty, stop, json,
        };
        command.SetAction(parse =>
        {
            string? text = parse.GetValue(input);
            string? idsText = parse.GetValue(inputIds);
            if ((text is null) == (idsText is null))
            {
                throw new ArgumentException("give either INPUT or --input-ids (exactly one)");
            }
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxNewTokens),
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                MinP = parse.GetValue(minP),
                RepetitionPenalty = parse.GetValue(repetitionPenalty),
                NoRepeatNgramSize = parse.GetValue(noRepeat),
                NumBeams = parse.GetValue(numBeams),
                Seed = parse.GetValue(seed),
                LengthPenalty = parse.GetValue(lengthPenalty),
                StopStrings = parse.GetValue(stop) is { Length: > 0 } stops ? stops : null,
            };
            string modelName = parse.GetValue(model)!;
            if (!IsEncoderDecoder(modelName))
            {
                throw new ArgumentException($"{modelName} is a decoder-only model: use `sharpformer generate`, not text2text");
            }
            using var generator = Text2TextGenerator.Load(modelName);
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
