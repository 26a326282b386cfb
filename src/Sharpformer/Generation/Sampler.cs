using Sharpformer.Tensors;

namespace Sharpformer.Generation;

/// <summary>Token choice and score normalisation over one row of scores.</summary>
public static class Sampler
{
    /// <summary>Index of the largest score; the first one on ties, as torch.argmax.</summary>
    public static int ArgMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++)
        {
            if (scores[i] > scores[best])
            {
                best = i;
            }
        }
        return best;
    }

    /// <summary>Draws from softmax(<paramref name="scores"/>) by inverse CDF with one uniform number; -inf scores are never drawn.</summary>
    public static int Sample(ReadOnlySpan<float> scores, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        float max = scores[ArgMax(scores)];
        double total = 0;
        foreach (float score in scores)
        {
            total += Math.Exp(score - max);
        }
        double target = rng.NextDouble() * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            double weight = Math.Exp(scores[i] - max);
            if (weight > 0)
            {
                cumulative += weight;
                last = i;
                if (cumulative > target)
                {
                    return i;
                }
            }
        }
        return last; // rounding left the target just past the sum
    }

    /// <summary>In place: s - max - log(Σ exp(s - max)), as torch.log_softmax.</summary>
    public static void LogSoftmax(Span<float> scores)
    {
        float max = scores[ArgMax(scores)];
        double total = 0;
        foreach (float score in scores)
        {
            total += Math.Exp(score - max);
        }
        float logTotal = (float)Math.Log(total);
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = scores[i] - max - logTotal;
        }
    }
}
