using System.CommandLine;
using System.Text.Json;
using Sharpformer.Generation;
using Sharpformer.Pipelines;

namespace Sharpformer.Cli;

/// <summary>`sharpformer generate`: continue a prompt, streaming text to the terminal, or print one JSON object.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter output)
    {
        var prompt = new Argument<string?>("PROMPT") { Description = "text to continue (empty: start from the BOS token)", Arity = ArgumentArity.ZeroOrOne };
        var model = CommandLine.ModelOption();
        var promptIds = new Option<string?>("--prompt-ids") { Description = "prompt as token ids, e.g. 1,2,3 (instead of PROMPT)" };
        var flags = new GenerationFlags();
        var json = CommandLine.JsonOption();
        var dtype = CommandLine.DTypeOption();
        var command = new Command("generate", "Continue a prompt with a decoder-only model (GPT-2), streaming the text")
        {
            prompt, model, promptIds, json, dtype,
        };
        flags.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? promptText = parse.GetValue(prompt);
            string? idsText = parse.GetValue(promptIds);
            if (promptText is not null && idsText is not null)
            {
                throw new ArgumentException("give either PROMPT or --prompt-ids, not both");
            }
            var options = flags.Read(parse);
            options.Validate();
            string modelName = parse.GetValue(model)!;
            if (Text2TextCommand.IsEncoderDecoder(modelName))
            {
                throw new ArgumentException($"{modelName} is an encoder-decoder model: use `sharpformer text2text`, not generate");
            }
            using var generator = TextGenerator.Load(modelName, CommandLine.ReadDType(parse, dtype));
            int[] ids = idsText is not null ? CommandLine.ParseIdRows(idsText, "--prompt-ids").Single() : generator.EncodePrompt(promptText ?? "");

            if (parse.GetValue(json))
            {
                var result = generator.GenerateIds(ids, options, cancellationToken);
                output.WriteLine(JsonSerializer.Serialize(new GenerateJson(result.PromptIds, result.GeneratedIds, result.Text), CliJson.Options.GetTypeInfo<GenerateJson>()));
                return 0;
            }
            if (options.NumBeams > 1)
            {
                string text = generator.GenerateIds(ids, options, cancellationToken).Text;
                output.Write(promptText);
                output.Write(text);
            }
            else
            {
                // Starting the stream checks the prompt against the context before anything is printed.
                var stream = generator.StreamTokensAsync(ids, options, cancellationToken);
                output.Write(promptText);
                await foreach (var token in stream.ConfigureAwait(false))
                {
                    output.Write(token.TextDelta);
                    output.Flush();
                }
            }
            output.WriteLine();
            return 0;
        });
        return command;
    }
}
