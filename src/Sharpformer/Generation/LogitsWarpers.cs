namespace Sharpformer.Generation;

// Sampling-only processors (HF "warpers"), applied after the processors in HF's order: temperature, top-k, top-p, min-p.
// Each keeps its scratch buffers between steps so a decode loop allocates nothing per token.

/// <summary>HF TemperatureLogitsWarper: scores / temperature.</summary>
public sealed class TemperatureWarper(float temperature) : ILogitsProcessor
{
    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] /= temperature;
        }
    }
}

/// <summary>HF TopKLogitsWarper: every score below the k-th largest becomes -inf (ties with the k-th all stay).</summary>
public sealed class TopKWarper(int topK, int minTokensToKeep = 1) : ILogitsProcessor
{
    private float[] _scratch = [];

    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        int k = Math.Min(Math.Max(topK, minTokensToKeep), logits.Length);
        if (_scratch.Length != logits.Length)
        {
            _scratch = new float[logits.Length];
        }
        logits.CopyTo(_scratch);
        float threshold = KthLargest(_scratch, k);
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] < threshold)
            {
                logits[i] = float.NegativeInfinity;
            }
        }
    }

    /// <summary>Quickselect (Hoare partition, middle pivot); reorders <paramref name="values"/>.</summary>
    internal static float KthLargest(Span<float> values, int k)
    {
        int target = k - 1, low = 0, high = values.Length - 1;
        while (low < high)
        {
            float pivot = values[low + (high - low) / 2];
            int i = low, j = high;
            while (i <= j)
            {
                while (values[i] > pivot) { i++; }
                while (values[j] < pivot) { j--; }
                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }
            if (target <= j) { high = j; }
            else if (target >= i) { low = i; }
            else { break; }
        }
        return values[target];
    }
}

/// <summary>
/// HF TopPLogitsWarper: sort ascending, softmax, cumulative sum; drop the tokens whose cumulative mass is
/// &lt;= 1 - topP, always keeping the <c>minTokensToKeep</c> most likely.
/// </summary>
public sealed class TopPWarper(float topP, int minTokensToKeep = 1) : ILogitsProcessor
{
    private float[] _sortedScores = [];
    private int[] _order = [];

    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        int count = logits.Length;
        if (_order.Length != count)
        {
            _sortedScores = new float[count];
            _order = new int[count];
        }
        logits.CopyTo(_sortedScores);
        for (int i = 0; i < count; i++)
        {
            _order[i] = i;
        }
        Array.Sort(_sortedScores, _order);
        float max = _sortedScores[^1];
        double total = 0;
        foreach (float score in _sortedScores)
        {
            total += Math.Exp(score - max);
        }
        double cumulative = 0, cut = 1.0 - topP;
        int removable = count - minTokensToKeep;
        for (int i = 0; i < removable; i++)
        {
            cumulative += Math.Exp(_sortedScores[i] - max) / total;
            if (cumulative > cut)
            {
                break; // the cumulative mass only grows: the rest stays
            }
            logits[_order[i]] = float.NegativeInfinity;
        }
    }
}

/// <summary>HF MinPLogitsWarper: drop tokens whose probability is below minP × the top probability (the top token always stays).</summary>
public sealed class MinPWarper(float minP) : ILogitsProcessor
{
    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float score in logits)
        {
            max = MathF.Max(max, score);
        }
        // p_i < minP·p_max  ⇔  exp(s_i - max) < minP, which needs no normalising sum.
        for (int i = 0; i < logits.Length; i++)
        {
            if (Math.Exp(logits[i] - max) < minP)
            {
                logits[i] = float.NegativeInfinity;
            }
        }
    }
}
