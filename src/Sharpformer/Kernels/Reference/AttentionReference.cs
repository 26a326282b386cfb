namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar float64 twin of <see cref="Attention.Head"/>.</summary>
public static class AttentionReference
{
    public static void Head(ReadOnlySpan<float> queries, int queryStride, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        ReadOnlySpan<int> keyMask, ReadOnlySpan<float> scoreBias, int tokenCount, int keyCount, int headDim, float scale,
        AttentionKind kind, int queryOffset, int localWindow, Span<float> output, int outputStride)
    {
        var scores = new double[keyCount];
        for (int t = 0; t < tokenCount; t++)
        {
            Attention.VisibleRange(kind, queryOffset + t, keyCount, localWindow, out int start, out int end);
            double max = double.NegativeInfinity;
            for (int j = start; j < end; j++)
            {
                double score = double.NegativeInfinity;
                if (keyMask.IsEmpty || keyMask[j] != 0)
                {
                    score = 0;
                    for (int d = 0; d < headDim; d++)
                    {
                        score += (double)queries[t * queryStride + d] * keys[j * headDim + d];
                    }
                    score = score * scale + (scoreBias.IsEmpty ? 0 : scoreBias[t * keyCount + j]);
                }
                scores[j] = score;
                max = Math.Max(max, score);
            }
            bool allMasked = double.IsNegativeInfinity(max);
            double sum = 0;
            for (int j = start; j < end; j++)
            {
                scores[j] = allMasked ? 1 : Math.Exp(scores[j] - max);
                sum += scores[j];
            }
            for (int d = 0; d < headDim; d++)
            {
                double accumulator = 0;
                for (int j = start; j < end; j++)
                {
                    accumulator += scores[j] / sum * values[j * headDim + d];
                }
                output[t * outputStride + d] = (float)accumulator;
            }
        }
    }
}
