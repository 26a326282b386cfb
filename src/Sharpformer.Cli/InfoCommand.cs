using System.CommandLine;
using System.Globalization;
using Sharpformer.IO;
using Sharpformer.Models;

namespace Sharpformer.Cli;

/// <summary>`sharpformer info`: architecture, parameters, FLOPs, weight and KV cache cost of a checkpoint or a named size.</summary>
internal static class InfoCommand
{
    private static IEnumerable<string> NamedSizes => Gpt2Config.Named.Keys.Concat(GptNeoConfig.Named.Keys);

    public static Command Create(TextWriter output)
    {
        var model = CommandLine.ModelOption($"model folder, cached model id, or a named size ({string.Join(", ", NamedSizes)})");
        var named = new Option<string?>("--config") { Description = $"a named size instead of a model ({string.Join(", ", NamedSizes)})" };
        var command = new Command("info", "Show a model's architecture, parameters, FLOPs per token, weight and KV cache memory") { model, named };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(named) ?? parse.GetValue(model)!;
            bool explicitName = parse.GetValue(named) is not null;
            if (explicitName || !Directory.Exists(name))
            {
                if (Gpt2Config.Named.TryGetValue(name, out var gpt))
                {
                    Write(output, ModelCost.Of(gpt), $"named configuration '{name}' (no weights)");
                    return 0;
                }
                if (GptNeoConfig.Named.TryGetValue(name, out var neo))
                {
                    Write(output, ModelCost.Of(neo), $"named configuration '{name}' (no weights)");
                    return 0;
                }
                if (explicitName)
                {
                    throw new ArgumentException($"--config: unknown size '{name}' (known: {string.Join(", ", NamedSizes)})");
                }
            }
            using var checkpoint = Checkpoint.Open(name, requireWeights: false);
            var cost = checkpoint.Config.ModelType switch
            {
                "gpt2" => ModelCost.Of(Gpt2Config.FromHf(checkpoint.Config)),
                "gpt_neo" => ModelCost.Of(GptNeoConfig.FromHf(checkpoint.Config)),
                string type => throw new CheckpointException($"{checkpoint.Config.Source}: info knows model_type gpt2 and gpt_neo; this is '{type}'"),
            };
            Write(output, cost, checkpoint.Directory);
            return 0;
        });
        return command;
    }

    internal static void Write(TextWriter output, ModelCost cost, string source)
    {
        var culture = CultureInfo.InvariantCulture;
        long parameters = cost.Parameters;
        int localLayers = cost.LayerWindows.Count(window => window > 0);
        output.WriteLine($"model:              {source}");
        output.WriteLine($"architecture:       {cost.Architecture}");
        output.WriteLine(string.Create(culture, $"layers × hidden:    {cost.LayerCount} × {cost.HiddenSize}, {cost.HeadCount} heads of {cost.HeadDim}, MLP {cost.InnerSize}"));
        if (localLayers > 0)
        {
            output.WriteLine(string.Create(culture, $"attention:          {cost.LayerCount - localLayers} global layers, {localLayers} local (window {cost.LayerWindows.Max()})"));
        }
        output.WriteLine(string.Create(culture, $"vocabulary:         {cost.VocabSize}"));
        output.WriteLine(string.Create(culture, $"context length:     {cost.ContextLength} tokens"));
        output.WriteLine(string.Create(culture, $"parameters:         {parameters:N0} ({Human(parameters, "")})"));
        output.WriteLine($"weights:            {Formats(cost.WeightBytes)}");
        output.WriteLine(string.Create(culture,
            $"FLOPs per token:    {Human(cost.FlopsPerToken, "FLOP")} forward at full context = {Human(cost.WeightFlopsPerToken, "")} (2 × weights) + {Human(cost.AttentionFlopsPerToken, "")} attention"));
        output.WriteLine(string.Create(culture, $"KV cache per token: {cost.KvBytesPerToken(NumberFormat.Float32):N0} bytes float32 (2 × {cost.LayerCount} layers × {cost.HiddenSize} × 4); {Formats(cost.KvBytesPerToken)}"));
        output.WriteLine($"KV cache, full ctx: {Formats(cost.KvBytesFullContext)} per sequence{(localLayers > 0 ? " (local layers keep only their window)" : "")}");
        long weightBytes = cost.WeightBytes(NumberFormat.Float32);
        output.WriteLine($"decode reads:       {Human(weightBytes, "B")} of weights per token; at 50 GB/s that caps fp32 decoding at {50e9 / weightBytes:0.#} tok/s");
    }

    private static string Formats(Func<NumberFormat, long> bytes) =>
        $"{Human(bytes(NumberFormat.Float32), "B")} f32, {Human(bytes(NumberFormat.BFloat16), "B")} bf16, {Human(bytes(NumberFormat.Int8), "B")} int8";

    private static string Human(double value, string unit)
    {
        string[] prefixes = ["", "K", "M", "G", "T", "P"];
        int index = 0;
        while (Math.Abs(value) >= 1000 && index < prefixes.Length - 1)
        {
            value /= 1000;
            index++;
        }
        return string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {prefixes[index]}{unit}").TrimEnd();
    }
}
