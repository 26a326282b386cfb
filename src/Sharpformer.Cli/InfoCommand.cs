using System.CommandLine;
using System.Globalization;
using Sharpformer.IO;
using Sharpformer.Models;

namespace Sharpformer.Cli;

/// <summary>`sharpformer info`: architecture, parameters, context and KV cache cost of a checkpoint or a named size.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommandLine.ModelOption($"model folder, cached model id, or a named size ({string.Join(", ", Gpt2Config.Named.Keys)})");
        var command = new Command("info", "Show a model's architecture, parameter count, context length and KV cache bytes per token") { model };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(model)!;
            Gpt2Config config;
            string source;
            if (!Directory.Exists(name) && Gpt2Config.Named.TryGetValue(name, out var named))
            {
                config = named;
                source = $"named configuration '{name}' (no weights)";
            }
            else
            {
                using var checkpoint = Checkpoint.Open(name, requireWeights: false);
                string type = checkpoint.Config.ModelType;
                if (type != "gpt2")
                {
                    throw new CheckpointException($"{checkpoint.Config.Source}: info knows model_type gpt2; this is '{type}'");
                }
                config = Gpt2Config.FromHf(checkpoint.Config);
                source = checkpoint.Directory;
            }
            Write(output, config, source);
            return 0;
        });
        return command;
    }

    internal static void Write(TextWriter output, Gpt2Config config, string source)
    {
        var culture = CultureInfo.InvariantCulture;
        long parameters = config.ParameterCount;
        long kvPerToken = config.KvCacheBytesPerToken;
        output.WriteLine($"model:              {source}");
        output.WriteLine($"architecture:       GPT-2 decoder-only transformer (pre-norm, learned positions, tied lm_head)");
        output.WriteLine(string.Create(culture, $"layers × hidden:    {config.LayerCount} × {config.HiddenSize}, {config.HeadCount} heads of {config.HeadDim}, MLP {config.InnerSize}"));
        output.WriteLine(string.Create(culture, $"vocabulary:         {config.VocabSize}"));
        output.WriteLine(string.Create(culture, $"context length:     {config.MaxPositions} tokens"));
        output.WriteLine(string.Create(culture, $"parameters:         {parameters:N0} ({Human(parameters, "")})"));
        output.WriteLine($"weights:            {Human(parameters * 4, "B")} float32, {Human(parameters * 2, "B")} float16/bfloat16");
        output.WriteLine(string.Create(culture, $"KV cache per token: {kvPerToken:N0} bytes float32 (2 × {config.LayerCount} layers × {config.HiddenSize} × 4)"));
        output.WriteLine($"KV cache, full ctx: {Human(kvPerToken * config.MaxPositions, "B")} per sequence");
        output.WriteLine($"compute per token:  {Human(2 * parameters, "FLOP")} (2 × parameters) plus attention over the context");
        output.WriteLine($"decode reads:       {Human(parameters * 4, "B")} of weights per token; at 50 GB/s that caps fp32 decoding at {50e9 / (parameters * 4.0):0.#} tok/s");
    }

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
