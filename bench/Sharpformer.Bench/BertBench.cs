using System.Diagnostics;
using System.Globalization;
using Sharpformer.Bench.Harness;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>
/// BERT-base-shaped (12 layers, 768 hidden, random weights) encoder throughput in sentences per second at sequence
/// length 128, next to the float32 FMA peak measured in the same run. Call <see cref="Run"/> from Program.
/// </summary>
public static class BertBench
{
    public static void Run(BenchContext context) => Run(context, Console.Out);

    public static void Run(BenchContext context, TextWriter output, int[]? batchSizes = null, int tokenCount = 128, int repeats = 3)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(output);
        batchSizes ??= [1, 16];
        var config = BertConfig.Base;
        var model = BertModel.CreateRandom(config, seed: 1);
        // Multiply-adds per token: q, k, v, out (4·h²) + FFN (2·h·inner) per layer, plus attention's q·kᵀ and p·v (2·T·h).
        double flopsPerToken = 2.0 * config.LayerCount * (4.0 * config.HiddenSize * config.HiddenSize
            + 2.0 * config.HiddenSize * config.IntermediateSize + 2.0 * tokenCount * config.HiddenSize);
        var rows = new List<(int BatchSize, double Seconds)>();
        foreach (int batchSize in batchSizes)
        {
            var ids = Enumerable.Range(0, batchSize * tokenCount).Select(i => (i * 7919) % config.VocabSize).ToArray();
            double best = double.MaxValue;
            for (int repeat = 0; repeat < repeats; repeat++)
            {
                var timer = Stopwatch.StartNew();
                model.Forward(ids, batchSize, tokenCount);
                best = Math.Min(best, timer.Elapsed.TotalSeconds);
            }
            rows.Add((batchSize, best));
        }
        // The peak is measured around the rows (best seen), since the machine is shared.
        double peak = context.RefreshCeilings().FmaGflops;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fp32 FMA peak: {peak:0} GFLOP/s"));
        foreach (var (batchSize, best) in rows)
        {
            double gigaflops = flopsPerToken * batchSize * tokenCount / best / 1e9;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bert-base seq {tokenCount} batch {batchSize,2}: {batchSize / best,8:0.00} sentences/s, {gigaflops:0.0} GFLOP/s = {gigaflops / peak:0.00} of fp32 FMA peak (best of {repeats})"));
        }
    }
}

