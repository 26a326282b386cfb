using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>
/// Which keys a training query sees, for one (batch row, head): the mask kind and local window (as inference),
/// a key padding mask [keyCount] (0 = padding), a visibility matrix [tokenCount, keyCount] (0 = hidden; UniLM and
/// prefix-LM masks), an additive score bias [tokenCount, keyCount] (T5's relative bias) and a dropout mask on the
/// probabilities [tokenCount, keyCount] (0 or 1/(1-p)). Empty spans mean "none". Queries sit at key positions 0..
/// (self-attention without a cache); cross-attention is <see cref="AttentionKind.Bidirectional"/>.
/// </summary>
public readonly ref struct HeadMask
{
    public AttentionKind Kind { get; init; }

    public int LocalWindow { get; init; }

    public ReadOnlySpan<int> KeyMask { get; init; }

    public ReadOnlySpan<byte> Visibility { get; init; }

    public ReadOnlySpan<float> ScoreBias { get; init; }

    public ReadOnlySpan<float> Dropout { get; init; }

    /// <summary>Whether query <paramref name="t"/> may see key <paramref name="j"/> inside its [start, end) window.</summary>
    public bool Sees(int t, int j, int keyCount) =>
        (KeyMask.IsEmpty || KeyMask[j] != 0) && (Visibility.IsEmpty || Visibility[t * keyCount + j] != 0);
}

/// <summary>
/// Attention for training: the forward keeps the probabilities [tokenCount, keyCount] that the backward needs
/// (layer granularity: one op from q, k, v to the heads' output). A query that sees no key gets uniform weights
/// over its window, as the inference kernel and HF's finfo.min arithmetic do; its scores then get no gradient.
/// </summary>
public static class AttentionTraining
{
    /// <summary>output[t] = Σ_j drop(P)[t, j]·v[j], P = softmax(q·kᵀ·scale + bias, masked); P is written to <paramref name="probabilities"/>.</summary>
    public static void Forward(ReadOnlySpan<float> queries, int queryStride, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int keyStride,
        HeadMask mask, int tokenCount, int keyCount, int headDim, float scale, Span<float> probabilities, Span<float> output, int outputStride)
    {
        Check(queries, queryStride, keys, values, keyStride, mask, tokenCount, keyCount, headDim, probabilities);
        for (int t = 0; t < tokenCount; t++)
        {
            var query = queries.Slice(t * queryStride, headDim);
            var row = probabilities.Slice(t * keyCount, keyCount);
            row.Clear();
            Attention.VisibleRange(mask.Kind, t, keyCount, mask.LocalWindow, out int start, out int end);
            float max = float.NegativeInfinity;
            for (int j = start; j < end; j++)
            {
                float score = float.NegativeInfinity;
                if (mask.Sees(t, j, keyCount))
                {
                    score = TensorPrimitives.Dot(query, keys.Slice(j * keyStride, headDim)) * scale;
                    if (!mask.ScoreBias.IsEmpty)
                    {
                        score += mask.ScoreBias[t * keyCount + j];
                    }
                }
                row[j] = score;
                max = MathF.Max(max, score);
            }
            var window = row[start..end];
            if (float.IsNegativeInfinity(max))
            {
                window.Clear(); // nothing visible: uniform weights, as HF
            }
            Softmax.Apply(window, window);
            var outputRow = output.Slice(t * outputStride, headDim);
            outputRow.Clear();
            for (int j = start; j < end; j++)
            {
                float weight = mask.Dropout.IsEmpty ? row[j] : row[j] * mask.Dropout[t * keyCount + j];
                if (weight != 0f)
                {
                    TensorPrimitives.MultiplyAdd(values.Slice(j * keyStride, headDim), weight, outputRow, outputRow);
                }
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> given its <paramref name="probabilities"/>: accumulates dq, dk, dv (same strides
    /// as q and k/v) and, when not empty, the score bias gradient [tokenCount, keyCount] (+=, so callers sum over batch).
    /// dP = dO·vᵀ (through the dropout mask), dS = P ⊙ (dP - rowsum(P ⊙ dP)), dq = scale·dS·k, dk = scale·dSᵀ·q, dv = drop(P)ᵀ·dO.
    /// <paramref name="scratch"/> holds keyCount floats.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> queries, int queryStride, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int keyStride,
        HeadMask mask, int tokenCount, int keyCount, int headDim, float scale, ReadOnlySpan<float> probabilities,
        ReadOnlySpan<float> outputGradient, int outputStride,
        Span<float> queryGradient, Span<float> keyGradient, Span<float> valueGradient, Span<float> scoreBiasGradient, Span<float> scratch)
    {
        Check(queries, queryStride, keys, values, keyStride, mask, tokenCount, keyCount, headDim, probabilities);
        if (scratch.Length < keyCount)
        {
            throw new ArgumentException($"attention backward needs {keyCount} floats of scratch, got {scratch.Length}");
        }
        for (int t = 0; t < tokenCount; t++)
        {
            var query = queries.Slice(t * queryStride, headDim);
            var dOut = outputGradient.Slice(t * outputStride, headDim);
            var row = probabilities.Slice(t * keyCount, keyCount);
            Attention.VisibleRange(mask.Kind, t, keyCount, mask.LocalWindow, out int start, out int end);
            bool anyVisible = false;
            var dScores = scratch[..keyCount];
            double rowSum = 0;
            for (int j = start; j < end; j++)
            {
                float drop = mask.Dropout.IsEmpty ? 1f : mask.Dropout[t * keyCount + j];
                float weight = row[j] * drop;
                if (weight != 0f)
                {
                    TensorPrimitives.MultiplyAdd(dOut, weight, valueGradient.Slice(j * keyStride, headDim), valueGradient.Slice(j * keyStride, headDim));
                }
                float dProbability = drop == 0f ? 0f : TensorPrimitives.Dot(dOut, values.Slice(j * keyStride, headDim)) * drop;
                dScores[j] = dProbability;
                rowSum += (double)row[j] * dProbability;
                anyVisible |= mask.Sees(t, j, keyCount);
            }
            if (!anyVisible)
            {
                continue; // uniform weights do not depend on the scores
            }
            var dQuery = queryGradient.Slice(t * queryStride, headDim);
            for (int j = start; j < end; j++)
            {
                float dScore = row[j] * (dScores[j] - (float)rowSum);
                if (dScore == 0f)
                {
                    continue;
                }
                if (!scoreBiasGradient.IsEmpty)
                {
                    scoreBiasGradient[t * keyCount + j] += dScore;
                }
                TensorPrimitives.MultiplyAdd(keys.Slice(j * keyStride, headDim), dScore * scale, dQuery, dQuery);
                var dKey = keyGradient.Slice(j * keyStride, headDim);
                TensorPrimitives.MultiplyAdd(query, dScore * scale, dKey, dKey);
            }
        }
    }

    private static void Check(ReadOnlySpan<float> queries, int queryStride, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int keyStride,
        HeadMask mask, int tokenCount, int keyCount, int headDim, ReadOnlySpan<float> probabilities)
    {
        int square = tokenCount * keyCount;
        if (queries.Length < (tokenCount - 1) * queryStride + headDim || keys.Length < (keyCount - 1) * keyStride + headDim
            || values.Length < (keyCount - 1) * keyStride + headDim || probabilities.Length < square
            || (!mask.KeyMask.IsEmpty && mask.KeyMask.Length < keyCount) || (!mask.Visibility.IsEmpty && mask.Visibility.Length < square)
            || (!mask.ScoreBias.IsEmpty && mask.ScoreBias.Length < square) || (!mask.Dropout.IsEmpty && mask.Dropout.Length < square))
        {
            throw new ArgumentException(
                $"attention of {tokenCount} queries over {keyCount} keys of {headDim}: queries {queries.Length}, keys {keys.Length}, values {values.Length}, " +
                $"probabilities {probabilities.Length}, key mask {mask.KeyMask.Length}, visibility {mask.Visibility.Length}, bias {mask.ScoreBias.Length}, dropout {mask.Dropout.Length}");
        }
    }
}
