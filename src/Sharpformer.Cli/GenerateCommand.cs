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
        var command = new Command("generate", "Continue a prompt with a decoder-only model (GPT-2), streaming the text")
        {
            prompt, model, promptIds, maxNewTokens, temperature, topK, topP, minP, repetitionPenalty, noRepeat, numBeams, seed, lengthPenalty, stop, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? promptText = parse.GetValue(prompt);
            string? idsText = parse.GetValue(promptIds);
            if (promptText is not null && idsText is not null)
            {
                throw new ArgumentException("give either PROMPT or --prompt-ids, not both");
            }
            float? temperatureValue = parse.GetValue(temperature);
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxNewTokens),
                Temperature = temperatureValue,
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
            options.Validate();
            string modelName = parse.GetValue(model)!;
            if (Text2TextCommand.IsEncoderDecoder(modelName))
            {
                throw new ArgumentException($"{modelName} is an encoder-decoder model: use `sharpformer text2text`, not generate");
            }
            using var generator = TextGenerator.Load(modelName);
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
