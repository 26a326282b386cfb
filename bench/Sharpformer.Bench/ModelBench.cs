using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Sharpformer.Bench.Harness;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>GPT-2 124M-shaped (random weights) decode and prefill throughput, as ratios of the machine's ceilings.</summary>
internal static class ModelBench
{
    public static void Run(BenchContext context)
    {
        var output = Console.Out;
        const string size = "gpt2";
        var config = Gpt2Config.Named[size];
        var build = Stopwatch.StartNew();
        using var model = Gpt2Model.CreateRandom(config, seed: 1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {size}-shaped, random weights, {config.ParameterCount / 1e6:0.0} M parameters, float32 (built in {build.Elapsed.TotalSeconds:0.0} s)"));
        double weightBytes = config.ParameterCount * 4.0;
        // Embedding rows are gathered, not streamed: a decode step reads the blocks, the final norm and the tied head (= wte) once.
        double bytesPerToken = weightBytes - (double)config.MaxPositions * config.HiddenSize * 4;

        var rows = new List<(string Name, double TokensPerSecond, bool Decode)>();
        // Decode: a short prompt, then one token at a time through the cache (greedy).
        foreach (int promptLength in new[] { 16, 128 })
        {
            const int steps = 64;
            double best = DecodeTimer.BestSeconds(model, promptLength, steps);
            rows.Add(($"decode  (context {promptLength,4}+{steps})", steps / best, true));
        }

        // Prefill: one forward over a whole prompt.
        foreach (int promptLength in new[] { 128, 512 })
        {
            double best = double.MaxValue;
            for (int repeat = 0; repeat < 3; repeat++)
            {
                var prompt = Enumerable.Range(0, promptLength).Select(i => (i * 104729) % config.VocabSize).ToArray();
                using var session = model.StartSession(PromptBatch.Single(prompt), 1);
                var logits = new float[config.VocabSize];
                var timer = Stopwatch.StartNew();
                session.Prefill(logits);
                best = Math.Min(best, timer.Elapsed.TotalSeconds);
            }
            rows.Add(($"prefill ({promptLength,4} tokens)   ", promptLength / best, false));
        }

        // Ceilings measured around the rows (best seen), since the machine is shared.
        var ceilings = context.RefreshCeilings();
        // Matmul work per prefill token: 2 FLOP per block weight; the head runs for the last position only.
        double flopsPerToken = 2.0 * (config.ParameterCount - (double)(config.VocabSize + config.MaxPositions) * config.HiddenSize);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ceilings: read {ceilings.ReadGBps:0.0} GB/s (fp32 decode limit {ceilings.ReadGBps / (bytesPerToken / 1e9):0.0} tok/s), fp32 FMA peak {ceilings.FmaGflops:0} GFLOP/s"));
        foreach (var (name, tokensPerSecond, decode) in rows)
        {
            if (decode)
            {
                double gigabytesPerSecond = tokensPerSecond * bytesPerToken / 1e9;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {tokensPerSecond,7:0.0} tok/s  {gigabytesPerSecond,6:0.0} GB/s of weights = {gigabytesPerSecond / ceilings.ReadGBps:0.00} of read bandwidth"));
            }
            else
            {
                double gigaflops = tokensPerSecond * flopsPerToken / 1e9;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {tokensPerSecond,7:0.0} tok/s  {gigaflops,6:0.0} GFLOP/s = {gigaflops / ceilings.FmaGflops:0.00} of fp32 FMA peak"));
            }
        }
    }
}
