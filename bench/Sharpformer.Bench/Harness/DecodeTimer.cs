using System.Diagnostics;
using System.Numerics.Tensors;
using Sharpformer.Models;

namespace Sharpformer.Bench.Harness;

/// <summary>Times greedy decoding through a model's generation session (the path `generate` uses).</summary>
public static class DecodeTimer
{
    /// <summary>
    /// Best of <paramref name="repeats"/> wall times for <paramref name="steps"/> cached steps after prefilling a
    /// synthetic prompt in each of <paramref name="batchSize"/> rows (each step makes batchSize tokens).
    /// </summary>
    public static double BestSeconds(ILanguageModel model, int promptLength, int steps, int repeats = 3, int batchSize = 1) =>
        Seconds(model, promptLength, steps, repeats, batchSize).Best;

    /// <summary>
    /// Best and median of <paramref name="repeats"/> wall times for <paramref name="steps"/> cached steps, after one
    /// untimed warm-up run (the JIT tiers up during it); <paramref name="afterEachRun"/> (untimed) follows each timed run.
    /// </summary>
    public static Timing Seconds(ILanguageModel model, int promptLength, int steps, int repeats = 5, int batchSize = 1,
        Action? afterEachRun = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var prompt = PromptBatch.Single(Prompt(model, promptLength)).Repeat(batchSize);
        var times = new List<double>();
        for (int repeat = -1; repeat < repeats; repeat++)
        {
            using var session = model.StartSession(prompt, steps);
            var logits = new float[batchSize * model.VocabSize];
            session.Prefill(logits);
            var next = new int[batchSize];
            var timer = Stopwatch.StartNew();
            for (int step = 0; step < steps; step++)
            {
                for (int row = 0; row < batchSize; row++)
                {
                    next[row] = TensorPrimitives.IndexOfMax(logits.AsSpan(row * model.VocabSize, model.VocabSize));
                }
                session.Step(next, logits);
            }
            if (repeat >= 0)
            {
                times.Add(timer.Elapsed.TotalSeconds);
                afterEachRun?.Invoke();
            }
        }
        times.Sort();
        return new Timing(times[0], times[times.Count / 2]);
    }

    /// <summary>
    /// The same without a cache: each step prefills the whole sequence so far again (HF's use_cache=False), which
    /// computes only the last position's logits.
    /// </summary>
    public static double BestSecondsWithoutCache(ILanguageModel model, int promptLength, int steps, int repeats = 2)
    {
        ArgumentNullException.ThrowIfNull(model);
        var prompt = Prompt(model, promptLength);
        double best = double.MaxValue;
        for (int repeat = 0; repeat < repeats; repeat++)
        {
            var ids = new List<int>(prompt);
            var logits = new float[model.VocabSize];
            var timer = Stopwatch.StartNew();
            for (int step = 0; step < steps; step++)
            {
                using var session = model.StartSession(PromptBatch.Single([.. ids]), 1);
                session.Prefill(logits);
                ids.Add(TensorPrimitives.IndexOfMax(logits));
            }
            best = Math.Min(best, timer.Elapsed.TotalSeconds);
        }
        return best;
    }

    public static int[] Prompt(ILanguageModel model, int length)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Enumerable.Range(0, length).Select(i => (i * 7919) % model.VocabSize).ToArray();
    }
}
