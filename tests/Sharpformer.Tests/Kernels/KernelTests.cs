using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Kernels;

/// <summary>Each optimized kernel against its scalar float64 twin on random data, tails included.</summary>
public class KernelTests
{
    private static float[] Random(Rng rng, int length, float scale = 1f)
    {
        var data = new float[length];
        rng.FillNormal(data, scale);
        return data;
    }

    public static TheoryData<int> Widths => new() { 1, 3, 7, 15, 16, 17, 31, 64, 65, 127, 768, 1001 };

    [Theory]
    [MemberData(nameof(Widths))]
    public void LayerNormMatchesReference(int width)
    {
        var rng = new Rng((ulong)width);
        int rows = 3;
        var x = Random(rng, rows * width, 3f);
        for (int i = 0; i < x.Length; i++)
        {
            x[i] += 10f; // an offset mean checks the two-pass variance
        }
        var gamma = Random(rng, width);
        var beta = Random(rng, width);
        var fast = new float[x.Length];
        var reference = new float[x.Length];
        Norms.LayerNorm(x, gamma, beta, 1e-5f, width, fast);
        ElementwiseReference.LayerNorm(x, gamma, beta, 1e-5f, width, reference);
        Goldens.AssertClose(reference, fast, 2e-5f, $"layer norm width {width}");
        Norms.RmsNorm(x, gamma, 1e-6f, width, fast);
        ElementwiseReference.RmsNorm(x, gamma, 1e-6f, width, reference);
        Goldens.AssertClose(reference, fast, 2e-5f, $"rms norm width {width}");
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void GeluTanhMatchesReference(int length)
    {
        var x = Random(new Rng(9), length, 4f);
        var fast = new float[length];
        var reference = new float[length];
        Activations.GeluTanh(x, fast, new float[length]);
        ElementwiseReference.GeluTanh(x, reference);
        Goldens.AssertClose(reference, fast, 1e-5f, "gelu_new");
        Assert.Equal(0f, fast.Zip(x).Where(p => p.Second == 0).Select(p => p.First).DefaultIfEmpty(0f).First());
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void GeluErfMatchesReference(int length)
    {
        var x = Random(new Rng(19), length, 4f);
        var fast = new float[length];
        var reference = new float[length];
        Activations.GeluErf(x, fast);
        ElementwiseReference.GeluErf(x, reference);
        Goldens.AssertClose(reference, fast, 2e-6f, "gelu (erf)");
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(-2.0, -0.9953222650189527)]
    [InlineData(3.5, 0.9999992569016276)]
    public void ReferenceErfMatchesPublishedValues(double z, double expected) =>
        Assert.Equal(expected, ElementwiseReference.Erf(z), 1e-12);

    [Theory]
    [InlineData(1, 1, 8, AttentionKind.Causal, 0, 0)]
    [InlineData(5, 5, 16, AttentionKind.Causal, 0, 0)]
    [InlineData(1, 33, 64, AttentionKind.Causal, 32, 0)]
    [InlineData(7, 20, 17, AttentionKind.Causal, 13, 0)]
    [InlineData(9, 9, 64, AttentionKind.Bidirectional, 0, 0)]
    [InlineData(12, 12, 16, AttentionKind.Causal, 0, 4)]
    [InlineData(3, 40, 32, AttentionKind.Causal, 37, 8)]
    public void AttentionMatchesReference(int tokenCount, int keyCount, int headDim, AttentionKind kind, int queryOffset, int window)
    {
        var rng = new Rng((ulong)(tokenCount * 1000 + keyCount));
        int stride = headDim * 3 + 5; // queries sit inside wider projection rows
        var queries = Random(rng, tokenCount * stride);
        var keys = Random(rng, keyCount * headDim);
        var values = Random(rng, keyCount * headDim);
        var mask = Enumerable.Range(0, keyCount).Select(j => j < 2 ? 0 : 1).ToArray(); // left padding
        var bias = Random(rng, tokenCount * keyCount);
        foreach (var useBias in new[] { false, true })
        {
            var fast = new float[tokenCount * headDim];
            var reference = new float[tokenCount * headDim];
            ReadOnlySpan<float> scoreBias = useBias ? bias : ReadOnlySpan<float>.Empty;
            Attention.Head(queries, stride, keys, values, mask, scoreBias, tokenCount, keyCount, headDim, 0.25f, kind, queryOffset, window,
                fast, headDim, new float[keyCount]);
            AttentionReference.Head(queries, stride, keys, values, mask, scoreBias, tokenCount, keyCount, headDim, 0.25f, kind, queryOffset, window,
                reference, headDim);
            Goldens.AssertClose(reference, fast, 1e-5f, $"attention bias={useBias}");
            Assert.DoesNotContain(fast, float.IsNaN);
        }
    }

    [Fact]
    public void FullyPaddedQueryGetsUniformWeightsNotNaN()
    {
        // Query 0 of a left-padded row sees only the padding key: HF's finfo.min arithmetic averages the visible values.
        float[] queries = [1, 2];
        float[] keys = [1, 0, 0, 1];
        float[] values = [3, 5, 7, 9];
        var output = new float[2];
        Attention.Head(queries, 2, keys, values, [0, 1], ReadOnlySpan<float>.Empty, 1, 2, 2, 1f, AttentionKind.Causal, 0, 0, output, 2, new float[2]);
        Assert.Equal([3f, 5f], output);
    }

    [Fact]
    public void EmbeddingLookupRefusesOutOfRangeIds()
    {
        float[] table = [1, 2, 3, 4];
        var output = new float[2];
        Embedding.Lookup(table, 2, [1], output);
        Assert.Equal([3f, 4f], output);
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Lookup(table, 2, [2], output));
        Assert.Contains("id 2", exception.Message);
    }
}
