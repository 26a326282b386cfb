using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>Which keys a query may see, before the padding mask.</summary>
public enum AttentionKind
{
    /// <summary>Every key (BERT, encoders, cross-attention).</summary>
    Bidirectional,

    /// <summary>Keys at or before the query's own position (GPT, decoders).</summary>
    Causal,
}

/// <summary>Scaled dot-product attention for one (batch row, head): softmax(q·kᵀ·scale + bias, masked) · v.</summary>
public static class Attention
{
    /// <summary>
    /// Attends <paramref name="tokenCount"/> queries over <paramref name="keyCount"/> keys.
    /// Query t sits at key index <paramref name="queryOffset"/> + t (the cache length before this step), which the
    /// causal rule and <paramref name="localWindow"/> (0 = unlimited; else only the last N keys up to the query) use.
    /// <paramref name="keyMask"/> (empty = all 1) marks padding keys with 0. <paramref name="scoreBias"/> (empty = none)
    /// is added to the scores, laid out [tokenCount, keyCount]. A query that can see no key (a left-padded slot)
    /// gets uniform weights over its causal window, which is what HF's finfo.min arithmetic yields.
    /// </summary>
    public static void Head(ReadOnlySpan<float> queries, int queryStride, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        ReadOnlySpan<int> keyMask, ReadOnlySpan<float> scoreBias, int tokenCount, int keyCount, int headDim, float scale,
        AttentionKind kind, int queryOffset, int localWindow, Span<float> output, int outputStride, Span<float> scores)
    {
        if (keys.Length < keyCount * headDim || values.Length < keyCount * headDim || scores.Length < keyCount)
        {
            throw new ArgumentException($"attention over {keyCount} keys of {headDim}: keys {keys.Length}, values {values.Length}, scores {scores.Length}");
        }
        for (int t = 0; t < tokenCount; t++)
        {
            var query = queries.Slice(t * queryStride, headDim);
            var outputRow = output.Slice(t * outputStride, headDim);
            VisibleRange(kind, queryOffset + t, keyCount, localWindow, out int start, out int end);
            float max = float.NegativeInfinity;
            for (int j = start; j < end; j++)
            {
                float score = float.NegativeInfinity;
                if (keyMask.IsEmpty || keyMask[j] != 0)
                {
                    score = TensorPrimitives.Dot(query, keys.Slice(j * headDim, headDim)) * scale;
                    if (!scoreBias.IsEmpty)
                    {
                        score += scoreBias[t * keyCount + j];
                    }
                }
                scores[j] = score;
                max = MathF.Max(max, score);
            }
            var window = scores[start..end];
            if (float.IsNegativeInfinity(max))
            {
                // Every visible key is padding: HF's additive finfo.min leaves equal scores, so weights are uniform.
                window.Clear();
            }
            TensorPrimitives.SoftMax(window, window);
            outputRow.Clear();
            for (int j = start; j < end; j++)
            {
                float weight = scores[j];
                if (weight != 0f)
                {
                    TensorPrimitives.MultiplyAdd(values.Slice(j * headDim, headDim), weight, outputRow, outputRow);
                }
            }
        }
    }

    internal static void VisibleRange(AttentionKind kind, int queryPosition, int keyCount, int localWindow, out int start, out int end)
    {
        end = kind == AttentionKind.Causal ? Math.Min(queryPosition + 1, keyCount) : keyCount;
        start = localWindow > 0 ? Math.Max(0, end - localWindow) : 0;
    }
}
