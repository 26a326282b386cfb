using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Sharpformer.Bench.Harness;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>
/// Encoder-decoder decode throughput for a t5-small-shaped model (random weights), as a ratio of the read bandwidth
/// measured in the same run (bench command t5).
/// </summary>
public static class EncoderDecoderBench
{
    public static void Run(BenchContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var output = Console.Out;
        var rows = new List<(int SourceLength, int Steps, double Seconds)>();

        var config = T5Config.Small;
        var build = Stopwatch.StartNew();
        using var model = T5Model.CreateRandom(config, seed: 1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: t5-small-shaped, random weights, {config.ParameterCount / 1e6:0.0} M parameters, float32 (built in {build.Elapsed.TotalSeconds:0.0} s)"));

        foreach (int sourceLength in new[] { 32, 256 })
        {
            const int steps = 64;
            double best = DecodeTimer.BestSeconds(model, sourceLength, steps);
            rows.Add((sourceLength, steps, best));
        }
        // The bandwidth is measured around the rows (best seen), since the machine is shared.
        double bandwidth = context.RefreshCeilings().ReadGBps;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"read bandwidth: {bandwidth:0.0} GB/s"));
        foreach (var (sourceLength, steps, best) in rows)
        {
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
}
