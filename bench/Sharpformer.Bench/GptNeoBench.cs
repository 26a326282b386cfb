using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Sharpformer.Bench.Harness;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>
/// GPT-Neo-125M-shaped decoding at context 2048: alternating global/local layers (window 256) against the same shape
/// with every layer global. The cache is filled directly (its contents do not change the cost), so no 2048-token
/// prefill is needed; each row then times cached decode steps at the end of the context.
/// </summary>
internal static class GptNeoBench
{
    public static void Run(BenchContext context)
    {
        var output = Console.Out;
        var local = GptNeoConfig.Named["gpt-neo-125M"];
        var dense = local with { AttentionLayers = [.. Enumerable.Repeat("global", local.LayerCount)] };
        const int steps = 32;
        int filled = local.MaxPositions - steps;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: gpt-neo-125M-shaped, random weights, {local.ParameterCount / 1e6:0.0} M parameters, float32; {steps} decode steps after {filled} cached positions"));
        foreach (var (name, config) in new[] { ("dense (12 global)      ", dense), ("local (6 global, 6 local)", local) })
        {
            if (!context.Selects(name))
            {
                continue;
            }
            using var model = GptNeoModel.CreateRandom(config, seed: 1);
            double best = double.MaxValue;
            long cacheBytes = 0;
            for (int repeat = 0; repeat < 2; repeat++)
            {
                var cache = model.CreateCache(1, config.MaxPositions);
                var zeros = new float[filled * config.HiddenSize];
                for (int layer = 0; layer < config.LayerCount; layer++)
                {
                    cache.Append(layer, zeros, zeros, filled, config.HiddenSize);
                }
                int next = 1;
                var timer = Stopwatch.StartNew();
                for (int step = 0; step < steps; step++)
                {
                    var logits = model.Forward([next], 1, 1, cache: cache, lastPositionOnly: true).Logits.Span;
                    next = TensorPrimitives.IndexOfMax(logits);
                }
                best = Math.Min(best, timer.Elapsed.TotalSeconds);
                cacheBytes = cache.AllocatedBytes;
            }
            var cost = ModelCost.Of(config);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {steps / best,6:0.0} tok/s at context {config.MaxPositions}  KV cache {cacheBytes / 1e6,6:0.0} MB allocated  attention {cost.AttentionFlopsPerToken / 1e6:0} MFLOP/token"));
        }
    }
}
