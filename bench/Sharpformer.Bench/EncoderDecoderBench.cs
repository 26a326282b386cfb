using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>
/// Encoder-decoder decode throughput for a t5-small-shaped model (random weights), as a ratio of the read bandwidth
/// measured in the same run. Call <c>EncoderDecoderBench.Run(Console.Out)</c>.
/// </summary>
public static class EncoderDecoderBench
{
    public static void Run(TextWriter output, int threads = 2)
    {
        ArgumentNullException.ThrowIfNull(output);
        double bandwidth = MeasureReadBandwidth(threads);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"read bandwidth ({threads} threads, 1 GiB stream): {bandwidth:0.0} GB/s"));

        var config = T5Config.Small;
        var build = Stopwatch.StartNew();
        using var model = T5Model.CreateRandom(config, seed: 1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: t5-small-shaped, random weights, {config.ParameterCount / 1e6:0.0} M parameters, float32 (built in {build.Elapsed.TotalSeconds:0.0} s)"));

        foreach (int sourceLength in new[] { 32, 256 })
        {
            const int steps = 64;
            double best = double.MaxValue;
            for (int repeat = 0; repeat < 3; repeat++)
            {
                var source = Enumerable.Range(0, sourceLength).Select(i => (i * 7919) % config.VocabSize).ToArray();
                using var session = model.StartSession(PromptBatch.Single(source), steps);
                var logits = new float[config.VocabSize];
                session.Prefill(logits);
                var next = new int[1];
                var timer = Stopwatch.StartNew();
                for (int step = 0; step < steps; step++)
                {
                    next[0] = TensorPrimitives.IndexOfMax(logits);
                    session.Step(next, logits);
                }
                best = Math.Min(best, timer.Elapsed.TotalSeconds);
            }
            double tokensPerSecond = steps / best;
            double bytesPerToken = DecodeBytesPerToken(config, sourceLength, steps / 2);
            double gigabytesPerSecond = tokensPerSecond * bytesPerToken / 1e9;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"decode (source {sourceLength,4}, {steps} steps): {tokensPerSecond,7:0.0} tok/s  {gigabytesPerSecond,6:0.0} GB/s read = {gigabytesPerSecond / bandwidth:0.00} of read bandwidth (ceiling {bandwidth / (bytesPerToken / 1e9):0.0} tok/s)"));
        }
    }

    /// <summary>
    /// Bytes one decoder step must read: decoder block weights except the cross-attention k/v projections (their
    /// output is cached), the tied head, the cross K/V cache and the self cache at its average length.
    /// </summary>
    private static double DecodeBytesPerToken(T5Config config, int sourceLength, int averageSelfLength)
    {
        long hidden = config.HiddenSize, inner = config.InnerSize;
        long perLayer = 4 * hidden * inner + 2 * hidden * inner + (config.GatedFeedForward ? 3 : 2) * hidden * config.FfnSize + 3 * hidden;
        long weights = config.DecoderLayerCount * perLayer + hidden + (long)config.VocabSize * hidden;
        long caches = 2L * config.DecoderLayerCount * inner * (sourceLength + averageSelfLength);
        return (weights + caches) * 4.0;
    }

    /// <summary>Sums a 1 GiB float array with the widest vectors on <paramref name="threads"/> threads; best of 5 passes.</summary>
    public static double MeasureReadBandwidth(int threads)
    {
        const long bytes = 1L << 30;
        var data = new float[bytes / sizeof(float)];
        Array.Fill(data, 1f);
        double best = double.MaxValue;
        var sums = new float[threads];
        for (int pass = 0; pass < 5; pass++)
        {
            var timer = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, thread =>
            {
                int chunk = data.Length / threads;
                sums[thread] = SumVectors(data.AsSpan(thread * chunk, chunk));
            });
            best = Math.Min(best, timer.Elapsed.TotalSeconds);
        }
        if (sums.Sum() != data.Length)
        {
            throw new InvalidOperationException("bandwidth probe summed wrong"); // keeps the reads from being optimised away
        }
        return bytes / best / 1e9;
    }

    private static float SumVectors(ReadOnlySpan<float> span)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a = default, b = default;
            int i = 0;
            for (; i + 32 <= span.Length; i += 32)
            {
                a += Vector512.Create(span.Slice(i, 16));
                b += Vector512.Create(span.Slice(i + 16, 16));
            }
            return Vector512.Sum(a + b) + TensorPrimitives.Sum(span[i..]);
        }
        Vector256<float> c = default, d = default;
        int j = 0;
        for (; j + 16 <= span.Length; j += 16)
        {
            c += Vector256.Create(span.Slice(j, 8));
            d += Vector256.Create(span.Slice(j + 8, 8));
        }
        return Vector256.Sum(c + d) + TensorPrimitives.Sum(span[j..]);
    }
}
