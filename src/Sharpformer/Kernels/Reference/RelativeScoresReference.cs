namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar float64 twin of <see cref="RelativeScores"/>: the same terms written as plain loops over every pair.</summary>
public static class RelativeScoresReference
{
    public static void Forward(double[] queries, double[] positions, int stride, double[] positionBias, double[] segmentBias,
        double[] sameSegment, double[] otherSegment, int[] segments, int tokenCount, int headDim, double scale, double[] scores)
    {
        for (int i = 0; i < tokenCount; i++)
        {
            for (int j = 0; j < tokenCount; j++)
            {
                int r = tokenCount - 1 - i + j;
                double score = 0;
                for (int d = 0; d < headDim; d++)
                {
                    score += (queries[i * stride + d] + positionBias[d]) * positions[r * stride + d];
                    if (segments.Length > 0)
                    {
                        double segment = segments[i] == segments[j] ? sameSegment[d] : otherSegment[d];
                        score += (queries[i * stride + d] + segmentBias[d]) * segment;
                    }
                }
                scores[i * tokenCount + j] = score * scale;
            }
        }
    }

    public static void Backward(double[] queries, double[] positions, int stride, double[] positionBias, double[] segmentBias,
        double[] sameSegment, double[] otherSegment, int[] segments, int tokenCount, int headDim, double scale, double[] scoreGradient,
        double[] queryGradient, double[] positionGradient, double[] positionBiasGradient, double[] segmentBiasGradient,
        double[] sameSegmentGradient, double[] otherSegmentGradient)
    {
        for (int i = 0; i < tokenCount; i++)
        {
            for (int j = 0; j < tokenCount; j++)
            {
                int r = tokenCount - 1 - i + j;
                double g = scoreGradient[i * tokenCount + j] * scale;
                for (int d = 0; d < headDim; d++)
                {
                    queryGradient[i * stride + d] += g * positions[r * stride + d];
                    positionBiasGradient[d] += g * positions[r * stride + d];
                    positionGradient[r * stride + d] += g * (queries[i * stride + d] + positionBias[d]);
                    if (segments.Length > 0)
                    {
                        bool same = segments[i] == segments[j];
                        double segment = same ? sameSegment[d] : otherSegment[d];
                        queryGradient[i * stride + d] += g * segment;
                        segmentBiasGradient[d] += g * segment;
                        (same ? sameSegmentGradient : otherSegmentGradient)[d] += g * (queries[i * stride + d] + segmentBias[d]);
                    }
                }
            }
        }
    }
}
