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
        const int steps = 16;
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
            var cost = ModelCost.Of(config);
            // Batch 4: the weights are read once per step for all rows, the KV cache once per row, so the window shows.
            foreach (int batch in (int[])[1, 4])
            {
                double best = double.MaxValue;
                long cacheBytes = 0;
                for (int repeat = 0; repeat < 2; repeat++)
                {
                    var cache = model.CreateCache(batch, config.MaxPositions);
                    var zeros = new float[batch * filled * config.HiddenSize];
                    for (int layer = 0; layer < config.LayerCount; layer++)
                    {
                        cache.Append(layer, zeros, zeros, filled, config.HiddenSize);
                    }
                    var next = new int[batch];
                    var timer = Stopwatch.StartNew();
                    for (int step = 0; step < steps; step++)
                    {
                        var logits = model.Forward(next, batch, 1, cache: cache, lastPositionOnly: true).Logits.Span;
                        for (int b = 0; b < batch; b++)
                        {
                            next[b] = TensorPrimitives.IndexOfMax(logits.Slice(b * config.VocabSize, config.VocabSize));
                        }
                    }
                    best = Math.Min(best, timer.Elapsed.TotalSeconds);
                    cacheBytes = cache.AllocatedBytes;
                }
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name} batch {batch}: {batch * steps / best,6:0.0} tok/s at context {config.MaxPositions}  KV cache {cacheBytes / 1e6,6:0.0} MB allocated  attention {cost.AttentionFlopsPerToken / 1e6:0} MFLOP/token"));
            }
        }
    }
}
