using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>
/// BERT-base-shaped (12 layers, 768 hidden, random weights) encoder throughput in sentences per second at sequence
/// length 128, next to the float32 FMA peak measured in the same run. Call <see cref="Run"/> from Program.
/// </summary>
public static class BertBench
{
    public static void Run(TextWriter output, int[]? batchSizes = null, int tokenCount = 128, int repeats = 3)
    {
        ArgumentNullException.ThrowIfNull(output);
        batchSizes ??= [1, 16];
        var config = BertConfig.Base;
        var model = BertModel.CreateRandom(config, seed: 1);
        // Multiply-adds per token: q, k, v, out (4·h²) + FFN (2·h·inner) per layer, plus attention's q·kᵀ and p·v (2·T·h).
        double flopsPerToken = 2.0 * config.LayerCount * (4.0 * config.HiddenSize * config.HiddenSize
            + 2.0 * config.HiddenSize * config.IntermediateSize + 2.0 * tokenCount * config.HiddenSize);
        double peakOneCore = MeasureFmaPeakGigaflops(1);
        double peakAllCores = MeasureFmaPeakGigaflops(Environment.ProcessorCount);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fp32 FMA peak ({VectorName}): {peakOneCore:0.0} GFLOP/s on 1 core, {peakAllCores:0.0} GFLOP/s on {Environment.ProcessorCount} cores"));
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
            double gigaflops = flopsPerToken * batchSize * tokenCount / best / 1e9;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bert-base seq {tokenCount} batch {batchSize,2}: {batchSize / best,8:0.00} sentences/s, {gigaflops:0.0} GFLOP/s = {gigaflops / peakAllCores:P1} of the all-core peak (best of {repeats})"));
        }
    }

    private static string VectorName => Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : "Vector128";

    /// <summary>Independent FMA chains on registers (no memory traffic): the float32 compute ceiling.</summary>
    public static double MeasureFmaPeakGigaflops(int threads)
    {
        const long iterations = 20_000_000;
        double best = 0;
        for (int repeat = 0; repeat < 3; repeat++)
        {
            var timer = Stopwatch.StartNew();
            float sink = 0;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
            {
                float result = Vector512.IsHardwareAccelerated ? Chains512(iterations) : Chains256(iterations);
                Interlocked.Exchange(ref sink, result);
            });
            double seconds = timer.Elapsed.TotalSeconds;
            int lanes = Vector512.IsHardwareAccelerated ? 16 : 8;
            best = Math.Max(best, threads * iterations * 8.0 * lanes * 2 / seconds / 1e9 + sink * 0);
        }
        return best;
    }

    // Eight accumulators hide the FMA latency (4 cycles, 2 ports) so the loop is throughput-bound.
    private static float Chains512(long iterations)
    {
        var a = Vector512.Create(0.999f);
        var b = Vector512.Create(1e-7f);
        Vector512<float> x0 = a, x1 = a, x2 = a, x3 = a, x4 = a, x5 = a, x6 = a, x7 = a;
        for (long i = 0; i < iterations; i++)
        {
            x0 = Vector512.FusedMultiplyAdd(x0, a, b); x1 = Vector512.FusedMultiplyAdd(x1, a, b);
            x2 = Vector512.FusedMultiplyAdd(x2, a, b); x3 = Vector512.FusedMultiplyAdd(x3, a, b);
            x4 = Vector512.FusedMultiplyAdd(x4, a, b); x5 = Vector512.FusedMultiplyAdd(x5, a, b);
            x6 = Vector512.FusedMultiplyAdd(x6, a, b); x7 = Vector512.FusedMultiplyAdd(x7, a, b);
        }
        return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7);
    }

    private static float Chains256(long iterations)
    {
        var a = Vector256.Create(0.999f);
        var b = Vector256.Create(1e-7f);
        Vector256<float> x0 = a, x1 = a, x2 = a, x3 = a, x4 = a, x5 = a, x6 = a, x7 = a;
        for (long i = 0; i < iterations; i++)
        {
            x0 = Vector256.FusedMultiplyAdd(x0, a, b); x1 = Vector256.FusedMultiplyAdd(x1, a, b);
            x2 = Vector256.FusedMultiplyAdd(x2, a, b); x3 = Vector256.FusedMultiplyAdd(x3, a, b);
            x4 = Vector256.FusedMultiplyAdd(x4, a, b); x5 = Vector256.FusedMultiplyAdd(x5, a, b);
            x6 = Vector256.FusedMultiplyAdd(x6, a, b); x7 = Vector256.FusedMultiplyAdd(x7, a, b);
        }
        return Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7);
    }
}
