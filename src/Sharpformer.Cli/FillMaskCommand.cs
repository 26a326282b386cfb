using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sharpformer.Pipelines;

namespace Sharpformer.Cli;

/// <summary>`sharpformer fill-mask`: the most likely tokens for each [MASK] of a text, with probabilities.</summary>
internal static class FillMaskCommand
{
    public static Command Create(TextWriter output)
    {
        var text = new Argument<string>("TEXT") { Description = "text holding at least one [MASK], e.g. \"The capital of France is [MASK].\"" };
        var model = new Option<string>("--model", "-m") { Description = "BERT model folder (with its masked-LM head) or cached model id", Required = true };
        var topK = new Option<int>("--top-k", "-k") { Description = "candidates to show per [MASK]", DefaultValueFactory = _ => 5 };
        var json = CommandLine.JsonOption();
        var command = new Command("fill-mask", "Predict the tokens hidden by [MASK] with a BERT model") { text, model, topK, json };
        command.SetAction(parse =>
        {
            using var pipeline = FillMask.Load(parse.GetValue(model)!);
            var masks = pipeline.Predict(parse.GetValue(text)!, parse.GetValue(topK));
            if (parse.GetValue(json))
            {
                var rows = masks.Select(candidates => candidates.Select(c => new FillMaskJson(c.TokenId, c.Token, c.Probability, c.Sequence)).ToArray()).ToArray();
                output.WriteLine(JsonSerializer.Serialize(rows, CliJson.Options.GetTypeInfo<FillMaskJson[][]>()));
                return 0;
            }
            for (int m = 0; m < masks.Count; m++)
            {
                if (masks.Count > 1)
                {
                    output.WriteLine($"[MASK] {m + 1} of {masks.Count}");
                }
                foreach (var candidate in masks[m])
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{candidate.Probability,8:0.0000}  {candidate.Token,-16} {candidate.Sequence}"));
                }
            }
            return 0;
        });
        return command;
    }
}
