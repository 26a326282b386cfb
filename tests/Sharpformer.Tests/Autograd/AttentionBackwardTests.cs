using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;
using static Sharpformer.Tests.Autograd.GradientCheck;

namespace Sharpformer.Tests.Autograd;

/// <summary>Attention backward for every mask kind: float64 reference vs finite differences, float32 kernel vs reference.</summary>
public class AttentionBackwardTests
{
    public static TheoryData<string> Cases => new()
    {
        "causal", "bidirectional", "local", "padding", "padding-first-key", "bias", "visibility", "dropout", "cross", "everything",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AttentionBackwardMatchesFiniteDifferencesAndReference(string name)
    {
        const int headDim = 4;
        int tokenCount = 5, keyCount = name is "cross" or "everything" ? 6 : 5;
        var rng = new Rng((ulong)name.Length * 31);
        var kind = name is "bidirectional" or "cross" or "visibility" or "everything" ? AttentionKind.Bidirectional : AttentionKind.Causal;
        int window = name is "local" ? 2 : 0;
        int[]? keyMask = name switch
        {
            "padding" => [1, 1, 1, 0, 0],
            "padding-first-key" => [0, 1, 1, 1, 1], // query 0 sees nothing: uniform weights, no score gradient
            "everything" => [1, 1, 0, 1, 1, 0],
            _ => null,
        };
        byte[]? visibility = null;
        if (name is "visibility" or "everything")
        {
            visibility = new byte[tokenCount * keyCount];
            for (int i = 0; i < visibility.Length; i++)
            {
                visibility[i] = (byte)(rng.NextFloat() < 0.6f ? 1 : 0);
            }
            visibility[1 * keyCount + 0] = 1;
        }
        double[]? bias = name is "bias" or "everything" ? Random(rng, tokenCount * keyCount) : null;
        double[]? dropout = null;
        if (name is "dropout" or "everything")
        {
            dropout = new double[tokenCount * keyCount];
            for (int i = 0; i < dropout.Length; i++)
            {
                dropout[i] = rng.NextFloat() < 0.3f ? 0 : 1 / 0.7;
            }
        }
        var masks = new BackwardReference.Masks(kind, window, keyMask, visibility, bias, dropout);
        double scale = 0.5;
        var q = Random(rng, tokenCount * headDim);
        var k = Random(rng, keyCount * headDim);
        var v = Random(rng, keyCount * headDim);
        var r = Random(rng, tokenCount * headDim);
        var output = new double[tokenCount * headDim];
        double Loss()
        {
            BackwardReference.AttentionForward(q, k, v, masks, tokenCount, keyCount, headDim, scale, output);
            return Dot(output, r);
        }
        var probabilities = BackwardReference.AttentionForward(q, k, v, masks, tokenCount, keyCount, headDim, scale, output);
        double[] dq = new double[q.Length], dk = new double[k.Length], dv = new double[v.Length], dbias = new double[tokenCount * keyCount];
        BackwardReference.AttentionBackward(q, k, v, masks, tokenCount, keyCount, headDim, scale, probabilities, r, dq, dk, dv, dbias);
        AssertGradient(Loss, q, dq, "dq");
        AssertGradient(Loss, k, dk, "dk");
        AssertGradient(Loss, v, dv, "dv");
        if (bias is not null)
        {
            AssertGradient(Loss, bias, dbias, "dbias");
        }
        if (name == "padding-first-key")
        {
            Assert.All(dq.AsSpan(0, headDim).ToArray(), value => Assert.Equal(0, value));
        }

        // The float32 kernel on strided q | k | v rows (as GPT-2's fused c_attn output) and a strided output.
        int queryStride = 3 * headDim + 1, keyStride = 2 * headDim + 3, outputStride = headDim + 2;
        var fq = Strided(q, tokenCount, headDim, queryStride);
        var fk = Strided(k, keyCount, headDim, keyStride);
        var fv = Strided(v, keyCount, headDim, keyStride);
        var fr = Strided(r, tokenCount, headDim, outputStride);
        float[]? fbias = bias is null ? null : ToFloat(bias);
        float[]? fdrop = dropout is null ? null : ToFloat(dropout);
        HeadMask Mask() => new()
        {
            Kind = kind,
            LocalWindow = window,
            KeyMask = keyMask,
            Visibility = visibility,
            ScoreBias = fbias,
            Dropout = fdrop,
        };
        var fp = new float[tokenCount * keyCount];
        var fo = new float[tokenCount * outputStride];
        AttentionTraining.Forward(fq, queryStride, fk, fv, keyStride, Mask(), tokenCount, keyCount, headDim, (float)scale, fp, fo, outputStride);
        AssertClose(output, Packed(fo, tokenCount, headDim, outputStride), 1e-5, "kernel output");
        AssertClose(probabilities, fp, 1e-5, "kernel probabilities");
        float[] fdq = new float[fq.Length], fdk = new float[fk.Length], fdv = new float[fv.Length], fdb = new float[tokenCount * keyCount];
        AttentionTraining.Backward(fq, queryStride, fk, fv, keyStride, Mask(), tokenCount, keyCount, headDim, (float)scale, fp, fr, outputStride,
            fdq, fdk, fdv, fdb, new float[keyCount]);
        AssertClose(dq, Packed(fdq, tokenCount, headDim, queryStride), 1e-5, "kernel dq");
        AssertClose(dk, Packed(fdk, keyCount, headDim, keyStride), 1e-5, "kernel dk");
        AssertClose(dv, Packed(fdv, keyCount, headDim, keyStride), 1e-5, "kernel dv");
        AssertClose(dbias, fdb, 1e-5, "kernel dbias");
    }

    private static float[] Strided(double[] packed, int rows, int width, int stride)
    {
        var data = new float[(rows - 1) * stride + width];
        for (int row = 0; row < rows; row++)
        {
            for (int c = 0; c < width; c++)
            {
                data[row * stride + c] = (float)packed[row * width + c];
            }
        }
        return data;
    }

    private static float[] Packed(float[] strided, int rows, int width, int stride)
    {
        var data = new float[rows * width];
        for (int row = 0; row < rows; row++)
        {
            strided.AsSpan(row * stride, width).CopyTo(data.AsSpan(row * width));
        }
        return data;
    }
}
