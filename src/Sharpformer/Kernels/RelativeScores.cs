using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>
/// XLNet's (Transformer-XL's) position and segment score terms for one head, added to the content scores as a bias:
/// bias[i, j] = scale·[(q_i + r_r)·R[T-1-i+j] + (q_i + r_s)·seg[same(i, j) ? 0 : 1]]. Queries [tokenCount, stride] and
/// position projections R [2·tokenCount-1, stride] are read at this head's offset; segments [tokenCount] (empty = no
/// segment term). The backward accumulates (+=) into every input's gradient.
/// </summary>
public static class RelativeScores
{
    public static void Forward(ReadOnlySpan<float> queries, ReadOnlySpan<float> positions, int stride,
        ReadOnlySpan<float> positionBias, ReadOnlySpan<float> segmentBias, ReadOnlySpan<float> sameSegment, ReadOnlySpan<float> otherSegment,
        ReadOnlySpan<int> segments, int tokenCount, int headDim, float scale, Span<float> scores)
    {
        Span<float> shifted = stackalloc float[headDim];
        for (int i = 0; i < tokenCount; i++)
        {
            var query = queries.Slice(i * stride, headDim);
            TensorPrimitives.Add(query, positionBias, shifted);
            for (int j = 0; j < tokenCount; j++)
            {
                scores[i * tokenCount + j] = TensorPrimitives.Dot(shifted, positions.Slice((tokenCount - 1 - i + j) * stride, headDim)) * scale;
            }
            if (!segments.IsEmpty)
            {
                TensorPrimitives.Add(query, segmentBias, shifted);
                float same = TensorPrimitives.Dot(shifted, sameSegment) * scale, other = TensorPrimitives.Dot(shifted, otherSegment) * scale;
                for (int j = 0; j < tokenCount; j++)
                {
                    scores[i * tokenCount + j] += segments[i] == segments[j] ? same : other;
                }
            }
        }
    }

    /// <summary>Backward of <see cref="Forward"/> given the scores' gradient [tokenCount, tokenCount].</summary>
    public static void Backward(ReadOnlySpan<float> queries, ReadOnlySpan<float> positions, int stride,
        ReadOnlySpan<float> positionBias, ReadOnlySpan<float> segmentBias, ReadOnlySpan<float> sameSegment, ReadOnlySpan<float> otherSegment,
        ReadOnlySpan<int> segments, int tokenCount, int headDim, float scale, ReadOnlySpan<float> scoreGradient,
        Span<float> queryGradient, Span<float> positionGradient, Span<float> positionBiasGradient, Span<float> segmentBiasGradient,
        Span<float> sameSegmentGradient, Span<float> otherSegmentGradient)
    {
        Span<float> shifted = stackalloc float[headDim];
        Span<float> dShifted = stackalloc float[headDim];
        for (int i = 0; i < tokenCount; i++)
        {
            var query = queries.Slice(i * stride, headDim);
            var dQuery = queryGradient.Slice(i * stride, headDim);
            // Position term: d(q + r_r) = scale·Σ_j dS[i, j]·R[r]; dR[r] += scale·dS[i, j]·(q + r_r).
            TensorPrimitives.Add(query, positionBias, shifted);
            dShifted.Clear();
            for (int j = 0; j < tokenCount; j++)
            {
                float dScore = scoreGradient[i * tokenCount + j] * scale;
                if (dScore == 0f)
                {
                    continue;
                }
                int r = tokenCount - 1 - i + j;
                TensorPrimitives.MultiplyAdd(positions.Slice(r * stride, headDim), dScore, dShifted, dShifted);
                var dPosition = positionGradient.Slice(r * stride, headDim);
                TensorPrimitives.MultiplyAdd(shifted, dScore, dPosition, dPosition);
            }
            TensorPrimitives.Add(dQuery, dShifted, dQuery);
            if (!positionBiasGradient.IsEmpty)
            {
                TensorPrimitives.Add(positionBiasGradient, dShifted, positionBiasGradient);
            }
            if (segments.IsEmpty)
            {
                continue;
            }
            // Segment term: the row's gradient splits into same-segment and other-segment sums.
            float same = 0f, other = 0f;
            for (int j = 0; j < tokenCount; j++)
            {
                if (segments[i] == segments[j])
                {
                    same += scoreGradient[i * tokenCount + j];
                }
                else
                {
                    other += scoreGradient[i * tokenCount + j];
                }
            }
            same *= scale;
            other *= scale;
            TensorPrimitives.Multiply(sameSegment, same, dShifted);
            TensorPrimitives.MultiplyAdd(otherSegment, other, dShifted, dShifted);
            TensorPrimitives.Add(dQuery, dShifted, dQuery);
            if (!segmentBiasGradient.IsEmpty)
            {
                TensorPrimitives.Add(segmentBiasGradient, dShifted, segmentBiasGradient);
            }
            TensorPrimitives.Add(query, segmentBias, shifted);
            if (!sameSegmentGradient.IsEmpty)
            {
                TensorPrimitives.MultiplyAdd(shifted, same, sameSegmentGradient, sameSegmentGradient);
                TensorPrimitives.MultiplyAdd(shifted, other, otherSegmentGradient, otherSegmentGradient);
            }
        }
    }
}
