using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>GPT-2 124M-shaped (random weights) decode and prefill throughput, as ratios of the machine's ceilings.</summary>
internal static class ModelBench
{
    public static void Run(double bandwidthGigabytesPerSecond, double peakGigaflops, TextWriter output, string size = "gpt2")
    {
        var config = Gpt2Config.Named[size];
        var build = Stopwatch.StartNew();
        using var model = Gpt2Model.CreateRandom(config, seed: 1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {size}-shaped, random weights, {config.ParameterCount / 1e6:0.0} M parameters, float32 (built in {build.Elapsed.TotalSeconds:0.0} s)"));
        double weightBytes = config.ParameterCount * 4.0;
        // Embedding rows are gathered, not streamed: a decode step reads the blocks, the final norm and the tied head (= wte) once.
        double bytesPerToken = weightBytes - (double)config.MaxPositions * config.HiddenSize * 4;

        // Decode: a short prompt, then one token at a time through the cache (greedy).
        foreach (int promptLength in new[] { 16, 128 })
        {
            const int steps = 64;
            double best = double.MaxValue;
            for (int repeat = 0; repeat < 3; repeat++)
            {
                var prompt = Enumerable.Range(0, promptLength).Select(i => (i * 7919) % config.VocabSize).ToArray();
                using var session = model.StartSession(PromptBatch.Single(prompt), steps);
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
            double gigabytesPerSecond = tokensPerSecond * bytesPerToken / 1e9;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"decode  (context {promptLength,4}+{steps}): {tokensPerSecond,7:0.0} tok/s  {gigabytesPerSecond,6:0.0} GB/s of weights = {gigabytesPerSecond / bandwidthGigabytesPerSecond:0.00} of read bandwidth (ceiling {bandwidthGigabytesPerSecond / (bytesPerToken / 1e9):0.0} tok/s)"));
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
            double tokensPerSecond = promptLength / best;
            // Matmul work per token: 2 FLOP per block weight; the head runs for the last position only.
            double flopsPerToken = 2.0 * (config.ParameterCount - (double)(config.VocabSize + config.MaxPositions) * config.HiddenSize);
            double gigaflops = tokensPerSecond * flopsPerToken / 1e9;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prefill ({promptLength,4} tokens):    {tokensPerSecond,7:0.0} tok/s  {gigaflops,6:0.0} GFLOP/s = {gigaflops / peakGigaflops:0.00} of fp32 FMA peak"));
        }
    }
}
