using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

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
        if (Vector512.IsHardwareAccelerated && headDim % Vector512<float>.Count == 0 && tokenCount > 0)
        {
            HeadVector512(queries, queryStride, keys, values, keyMask, scoreBias, tokenCount, keyCount, headDim, scale, kind,
                queryOffset, localWindow, output, outputStride, scores);
            return;
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
            Softmax.Apply(window, window);
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

    /// <summary>
    /// <see cref="Head"/> for head widths that are whole 512-bit vectors (GPT-2, BERT, T5: 64): q·k with the query
    /// in registers, and the weighted sum of values accumulated in registers over the keys rather than stored back
    /// after each one (the span helpers cost a call and a reduction per key at 64 floats).
    /// </summary>
    private static unsafe void HeadVector512(ReadOnlySpan<float> queries, int queryStride, ReadOnlySpan<float> keys,
        ReadOnlySpan<float> values, ReadOnlySpan<int> keyMask, ReadOnlySpan<float> scoreBias, int tokenCount, int keyCount,
        int headDim, float scale, AttentionKind kind, int queryOffset, int localWindow, Span<float> output, int outputStride,
        Span<float> scores)
    {
        if (queries.Length < (tokenCount - 1) * queryStride + headDim || output.Length < (tokenCount - 1) * outputStride + headDim)
        {
            throw new ArgumentException($"attention of {tokenCount} queries of {headDim}: queries {queries.Length} (stride {queryStride}), output {output.Length} (stride {outputStride})");
        }
        fixed (float* queryBase = queries, keyBase = keys, valueBase = values, outputBase = output, scoreBase = scores)
        {
            for (int t = 0; t < tokenCount; t++)
            {
                float* query = queryBase + (nint)t * queryStride;
                VisibleRange(kind, queryOffset + t, keyCount, localWindow, out int start, out int end);
                float max = float.NegativeInfinity;
                for (int j = start; j < end; j++)
                {
                    float score = float.NegativeInfinity;
                    if (keyMask.IsEmpty || keyMask[j] != 0)
                    {
                        score = Dot(query, keyBase + (nint)j * headDim, headDim) * scale;
                        if (!scoreBias.IsEmpty)
                        {
                            score += scoreBias[t * keyCount + j];
                        }
                    }
                    scoreBase[j] = score;
                    max = MathF.Max(max, score);
                }
                var window = scores[start..end];
                if (float.IsNegativeInfinity(max))
                {
                    // Every visible key is padding: HF's additive finfo.min leaves equal scores, so weights are uniform.
                    window.Clear();
                }
                Softmax.Apply(window, window);
                WeightedSum(scoreBase, valueBase, start, end, headDim, outputBase + (nint)t * outputStride);
            }
        }
    }

    private static unsafe float Dot(float* query, float* key, int headDim)
    {
        var sum0 = Vector512<float>.Zero;
        var sum1 = Vector512<float>.Zero;
        int d = 0;
        for (; d + 32 <= headDim; d += 32)
        {
            sum0 = Vector512.FusedMultiplyAdd(Vector512.Load(query + d), Vector512.Load(key + d), sum0);
            sum1 = Vector512.FusedMultiplyAdd(Vector512.Load(query + d + 16), Vector512.Load(key + d + 16), sum1);
        }
        if (d < headDim)
        {
            sum0 = Vector512.FusedMultiplyAdd(Vector512.Load(query + d), Vector512.Load(key + d), sum0);
        }
        return Vector512.Sum(sum0 + sum1);
    }

    /// <summary>output = Σ_j weights[j] · values[j] over [start, end), 64 columns at a time in four registers.</summary>
    private static unsafe void WeightedSum(float* weights, float* values, int start, int end, int headDim, float* output)
    {
        for (int d0 = 0; d0 < headDim; d0 += 64)
        {
            int vectors = Math.Min(4, (headDim - d0) / 16);
            var a0 = Vector512<float>.Zero;
            var a1 = Vector512<float>.Zero;
            var a2 = Vector512<float>.Zero;
            var a3 = Vector512<float>.Zero;
            for (int j = start; j < end; j++)
            {
                float weight = weights[j];
                if (weight == 0f)
                {
                    continue; // a masked key: skip it, as the scalar path does, even if its value is not finite
                }
                var w = Vector512.Create(weight);
                float* v = values + (nint)j * headDim + d0;
                a0 = Vector512.FusedMultiplyAdd(w, Vector512.Load(v), a0);
                if (vectors > 1)
                {
                    a1 = Vector512.FusedMultiplyAdd(w, Vector512.Load(v + 16), a1);
                }
                if (vectors > 2)
                {
                    a2 = Vector512.FusedMultiplyAdd(w, Vector512.Load(v + 32), a2);
                }
                if (vectors > 3)
                {
                    a3 = Vector512.FusedMultiplyAdd(w, Vector512.Load(v + 48), a3);
                }
            }
            a0.Store(output + d0);
            if (vectors > 1)
            {
                a1.Store(output + d0 + 16);
            }
            if (vectors > 2)
            {
                a2.Store(output + d0 + 32);
            }
            if (vectors > 3)
            {
                a3.Store(output + d0 + 48);
            }
        }
    }

    internal static void VisibleRange(AttentionKind kind, int queryPosition, int keyCount, int localWindow, out int start, out int end)
    {
        end = kind == AttentionKind.Causal ? Math.Min(queryPosition + 1, keyCount) : keyCount;
        start = localWindow > 0 ? Math.Max(0, end - localWindow) : 0;
    }
}
