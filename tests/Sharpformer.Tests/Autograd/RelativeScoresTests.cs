using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;
using static Sharpformer.Tests.Autograd.BackwardKernelTests;
using static Sharpformer.Tests.Autograd.GradientCheck;

namespace Sharpformer.Tests.Autograd;

/// <summary>XLNet's relative score terms: the float64 reference against finite differences, then the float32 kernel against it.</summary>
public class RelativeScoresTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BackwardMatchesFiniteDifferencesAndTheKernelMatchesTheReference(bool withSegments)
    {
        const int tokens = 4, headDim = 3, stride = 5; // a head of 3 inside rows of 5, as one head of several
        var rng = new Rng(31);
        var queries = Random(rng, tokens * stride);
        var positions = Random(rng, (2 * tokens - 1) * stride);
        var positionBias = Random(rng, headDim);
        var segmentBias = Random(rng, headDim);
        var same = Random(rng, headDim);
        var other = Random(rng, headDim);
        int[] segments = withSegments ? [0, 0, 1, 1] : [];
        var r = Random(rng, tokens * tokens);
        const double scale = 0.5;
        double Loss()
        {
            var scores = new double[tokens * tokens];
            RelativeScoresReference.Forward(queries, positions, stride, positionBias, segmentBias, same, other, segments, tokens, headDim, scale, scores);
            return Dot(scores, r);
        }
        double[] dq = new double[queries.Length], dp = new double[positions.Length], dpb = new double[headDim], dsb = new double[headDim],
            dSame = new double[headDim], dOther = new double[headDim];
        RelativeScoresReference.Backward(queries, positions, stride, positionBias, segmentBias, same, other, segments, tokens, headDim, scale, r,
            dq, dp, dpb, dsb, dSame, dOther);
        AssertGradient(Loss, queries, dq, "dq");
        AssertGradient(Loss, positions, dp, "dR");
        AssertGradient(Loss, positionBias, dpb, "dr_r");
        AssertGradient(Loss, segmentBias, dsb, "dr_s");
        AssertGradient(Loss, same, dSame, "dseg[same]");
        AssertGradient(Loss, other, dOther, "dseg[other]");

        var expected = new double[tokens * tokens];
        RelativeScoresReference.Forward(queries, positions, stride, positionBias, segmentBias, same, other, segments, tokens, headDim, scale, expected);
        var actual = new float[tokens * tokens];
        RelativeScores.Forward(ToFloat(queries), ToFloat(positions), stride, ToFloat(positionBias), ToFloat(segmentBias), ToFloat(same), ToFloat(other),
            segments, tokens, headDim, (float)scale, actual);
        AssertClose(expected, actual, 1e-5, "scores");
        float[] fq = Filled(queries.Length), fp = Filled(positions.Length), fpb = Filled(headDim), fsb = Filled(headDim), fSame = Filled(headDim), fOther = Filled(headDim);
        RelativeScores.Backward(ToFloat(queries), ToFloat(positions), stride, ToFloat(positionBias), ToFloat(segmentBias), ToFloat(same), ToFloat(other),
            segments, tokens, headDim, (float)scale, ToFloat(r), fq, fp, fpb, fsb, fSame, fOther);
        AssertClose(dq, Minus1(fq), 1e-5, "kernel dq");
        AssertClose(dp, Minus1(fp), 1e-5, "kernel dR");
        AssertClose(dpb, Minus1(fpb), 1e-5, "kernel dr_r");
        AssertClose(dsb, Minus1(fsb), 1e-5, "kernel dr_s");
        AssertClose(dSame, Minus1(fSame), 1e-5, "kernel dseg[same]");
        AssertClose(dOther, Minus1(fOther), 1e-5, "kernel dseg[other]");
    }
}
