using System.Diagnostics;
using System.Numerics.Tensors;
using Sharpformer.Models;

namespace Sharpformer.Bench.Harness;

/// <summary>Times greedy decoding through a model's generation session (the path `generate` uses).</summary>
public static class DecodeTimer
{
    /// <summary>Best of <paramref name="repeats"/> wall times for <paramref name="steps"/> cached steps after prefilling a synthetic prompt.</summary>
    public static double BestSeconds(ILanguageModel model, int promptLength, int steps, int repeats = 3)
    {
        ArgumentNullException.ThrowIfNull(model);
        var prompt = Enumerable.Range(0, promptLength).Select(i => (i * 7919) % model.VocabSize).ToArray();
        double best = double.MaxValue;
        for (int repeat = 0; repeat < repeats; repeat++)
        {
            using var session = model.StartSession(PromptBatch.Single(prompt), steps);
            var logits = new float[model.VocabSize];
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
        return best;
    }
}
