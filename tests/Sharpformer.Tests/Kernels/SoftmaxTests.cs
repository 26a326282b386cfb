using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Kernels;

/// <summary>Softmax must stay finite where exp(x) alone overflows (scores above ~88), in every kernel that uses it.</summary>
public class SoftmaxTests
{
    [Theory]
    [InlineData(1f)]
    [InlineData(100f)]
    [InlineData(3000f)]
    public void MatchesTheFloat64TwinAtAnyScale(float scale)
    {
        var rng = new Rng(7);
        var x = new float[1001];
        rng.FillNormal(x, scale);
        x[3] = float.NegativeInfinity;
        var fast = new float[x.Length];
        var reference = new float[x.Length];
        Softmax.Apply(x, fast);
        ElementwiseReference.Softmax(x, reference);
        Goldens.AssertClose(reference, fast, 1e-6f, $"softmax scale {scale}");
        Assert.Equal(0f, fast[3]);
    }

    [Fact]
    public void AttentionWithHugeScoresStaysFinite()
    {
        // q·k = 400: exp(400) is ∞ in float32, so a softmax without the max subtracted returns NaN here.
        const int keyCount = 3, headDim = 2;
        float[] queries = [20, 20];
        float[] keys = [10, 10, 1, 1, -10, -10];
        float[] values = [1, 2, 3, 4, 5, 6];
        var inference = new float[headDim];
        Attention.Head(queries, headDim, keys, values, ReadOnlySpan<int>.Empty, ReadOnlySpan<float>.Empty, 1, keyCount, headDim, 1f,
            AttentionKind.Bidirectional, 0, 0, inference, headDim, new float[keyCount]);
        Assert.Equal([1f, 2f], inference); // all weight on key 0
        var training = new float[headDim];
        AttentionTraining.Forward(queries, headDim, keys, values, headDim, new HeadMask { Kind = AttentionKind.Bidirectional }, 1, keyCount, headDim, 1f,
            new float[keyCount], training, headDim);
        Assert.Equal([1f, 2f], training);
    }
}
