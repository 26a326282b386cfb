using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sharpformer.Pipelines;

namespace Sharpformer.Cli;

/// <summary>`sharpformer embed`: one sentence vector per text (mean pooling over the attention mask by default).</summary>
internal static class EmbedCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var texts = new Argument<string[]>("TEXT") { Description = "texts to embed", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string>("--model", "-m") { Description = "BERT model folder or cached model id", Required = true };
        var pooling = new Option<string>("--pooling") { Description = "mean (over real tokens, as sentence-transformers) or cls", DefaultValueFactory = _ => "mean" };
        pooling.AcceptOnlyFromAmong("mean", "cls");
        var normalize = new Option<bool>("--normalize") { Description = "scale each vector to unit length" };
        var json = CommandLine.JsonOption();
        var command = new Command("embed", "Sentence embeddings from a BERT encoder; over-long texts are truncated with a warning")
        {
            texts, model, pooling, normalize, json,
        };
        command.SetAction(parse =>
        {
            using var embedder = SentenceEmbedder.Load(parse.GetValue(model)!);
            string[] inputs = parse.GetValue(texts)!;
            var mode = parse.GetValue(pooling) == "cls" ? Pooling.Cls : Pooling.Mean;
            var embeddings = embedder.Embed(inputs, mode, parse.GetValue(normalize));
            for (int i = 0; i < embeddings.Count; i++)
            {
                if (embeddings[i].Truncated)
                {
                    error.WriteLine($"warning: text {i + 1} was truncated to {embedder.MaxLength} tokens");
                }
            }
            if (parse.GetValue(json))
            {
                var rows = embeddings.Select((e, i) => new EmbedJson(inputs[i], e.TokenCount, e.Vector)).ToArray();
                output.WriteLine(JsonSerializer.Serialize(rows, CliJson.Options.GetTypeInfo<EmbedJson[]>()));
                return 0;
            }
            for (int i = 0; i < embeddings.Count; i++)
            {
                var vector = embeddings[i].Vector;
                // A short preview: the dimension and the first values; --json prints every value.
                string head = string.Join(" ", vector.Take(8).Select(v => v.ToString("0.0000", CultureInfo.InvariantCulture)));
                output.WriteLine($"{JsonSerializer.Serialize(inputs[i], CliJson.Options.GetTypeInfo<string>())}  [{vector.Length}]  {head}{(vector.Length > 8 ? " ..." : "")}");
            }
            return 0;
        });
        return command;
    }
}
