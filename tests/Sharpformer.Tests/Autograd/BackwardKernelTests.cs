using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;
using static Sharpformer.Tests.Autograd.GradientCheck;

namespace Sharpformer.Tests.Autograd;

/// <summary>
/// Each backward op twice: the float64 reference backward against float64 finite differences of the reference
/// forward (loss = Σ y·r for a random r), and the float32 kernel against the reference backward.
/// </summary>
public class BackwardKernelTests
{
    [Theory]
    [InlineData(WeightLayout.InputMajor, 3, 5, 4)]
    [InlineData(WeightLayout.OutputMajor, 3, 5, 4)]
    [InlineData(WeightLayout.InputMajor, 37, 70, 33)]
    [InlineData(WeightLayout.OutputMajor, 37, 70, 33)]
    public void LinearBackwardMatchesFiniteDifferencesAndReference(WeightLayout layout, int rows, int inFeatures, int outFeatures)
    {
        var rng = new Rng(7);
        var x = Random(rng, rows * inFeatures);
        var w = Random(rng, inFeatures * outFeatures, 0.3);
        var b = Random(rng, outFeatures);
        var r = Random(rng, rows * outFeatures);
        var y = new double[rows * outFeatures];
        double Loss()
        {
            BackwardReference.LinearForward(x, w, b, rows, inFeatures, outFeatures, layout, y);
            return Dot(y, r);
        }
        double[] dx = new double[x.Length], dw = new double[w.Length], db = new double[b.Length];
        BackwardReference.LinearBackward(x, w, r, rows, inFeatures, outFeatures, layout, dx, dw, db);
        if (rows < 10)
        {
            AssertGradient(Loss, x, dx, "dX");
            AssertGradient(Loss, w, dw, "dW");
            AssertGradient(Loss, b, db, "dB");
        }

        // The kernel accumulates: start from ones and subtract them after.
        float[] fx = Filled(x.Length), fw = Filled(w.Length), fb = Filled(b.Length);
        Backward.Linear(ToFloat(x), ToFloat(w), ToFloat(r), rows, inFeatures, outFeatures, layout, fx, fw, fb);
        AssertClose(dx, Minus1(fx), 1e-4, "kernel dX");
        AssertClose(dw, Minus1(fw), 1e-4, "kernel dW");
        AssertClose(db, Minus1(fb), 1e-4, "kernel dB");
    }

    [Fact]
    public void LayerNormBackwardMatchesFiniteDifferencesAndReference()
    {
        var rng = new Rng(11);
        int width = 9, rows = 4;
        var x = Random(rng, rows * width, 2);
        var gamma = Random(rng, width);
        var beta = Random(rng, width);
        var r = Random(rng, x.Length);
        var y = new double[x.Length];
        double Loss()
        {
            BackwardReference.LayerNormForward(x, gamma, beta, 1e-5, width, y);
            return Dot(y, r);
        }
        double[] dx = new double[x.Length], dgamma = new double[width], dbeta = new double[width];
        BackwardReference.LayerNormBackward(x, gamma, r, 1e-5, width, dx, dgamma, dbeta);
        AssertGradient(Loss, x, dx, "dx", tolerance: 1e-5);
        AssertGradient(Loss, gamma, dgamma, "dgamma");
        AssertGradient(Loss, beta, dbeta, "dbeta");

        float[] fx = Filled(x.Length), fg = Filled(width), fb = Filled(width);
        Backward.LayerNorm(ToFloat(x), ToFloat(gamma), ToFloat(r), 1e-5f, width, fx, fg, fb);
        AssertClose(dx, Minus1(fx), 1e-4, "kernel dx");
        AssertClose(dgamma, Minus1(fg), 1e-4, "kernel dgamma");
        AssertClose(dbeta, Minus1(fb), 1e-4, "kernel dbeta");
    }

    [Fact]
    public void RmsNormBackwardMatchesFiniteDifferencesAndReference()
    {
        var rng = new Rng(12);
        int width = 7, rows = 3;
        var x = Random(rng, rows * width, 2);
        var gamma = Random(rng, width);
        var r = Random(rng, x.Length);
        var y = new double[x.Length];
        double Loss()
        {
            BackwardReference.RmsNormForward(x, gamma, 1e-6, width, y);
            return Dot(y, r);
        }
        double[] dx = new double[x.Length], dgamma = new double[width];
        BackwardReference.RmsNormBackward(x, gamma, r, 1e-6, width, dx, dgamma);
        AssertGradient(Loss, x, dx, "dx", tolerance: 1e-5);
        AssertGradient(Loss, gamma, dgamma, "dgamma");

        float[] fx = Filled(x.Length), fg = Filled(width);
        Backward.RmsNorm(ToFloat(x), ToFloat(gamma), ToFloat(r), 1e-6f, width, fx, fg);
        AssertClose(dx, Minus1(fx), 1e-4, "kernel dx");
        AssertClose(dgamma, Minus1(fg), 1e-4, "kernel dgamma");
    }

    public static TheoryData<string> ActivationNames => new() { "gelu_tanh", "gelu_erf", "relu" };

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void ActivationBackwardMatchesFiniteDifferencesAndReference(string name)
    {
        var rng = new Rng(3);
        // Keep ReLU inputs away from the kink at 0, where a finite difference straddles two slopes.
        var x = Random(rng, 257, 2);
        for (int i = 0; i < x.Length; i++)
        {
            x[i] += Math.Abs(x[i]) < 1e-3 ? 0.1 : 0;
        }
        Func<double, double> f = name switch { "gelu_tanh" => BackwardReference.GeluTanh, "gelu_erf" => BackwardReference.GeluErf, _ => BackwardReference.Relu };
        Func<double, double> df = name switch
        {
            "gelu_tanh" => BackwardReference.GeluTanhDerivative,
            "gelu_erf" => BackwardReference.GeluErfDerivative,
            _ => BackwardReference.ReluDerivative,
        };
        var r = Random(rng, x.Length);
        double Loss()
        {
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                sum += f(x[i]) * r[i];
            }
            return sum;
        }
        var dx = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            dx[i] = df(x[i]) * r[i];
        }
        AssertGradient(Loss, x, dx, name);

        var fx = Filled(x.Length);
        var fxs = ToFloat(x);
        var fr = ToFloat(r);
        switch (name)
        {
            case "gelu_tanh": Backward.GeluTanh(fxs, fr, fx); break;
            case "gelu_erf": Backward.GeluErf(fxs, fr, fx); break;
            default: Backward.Relu(fxs, fr, fx); break;
        }
        // GeluErf's float32 forward uses a 1.5e-7 erf approximation; its backward uses the same Φ.
        AssertClose(dx, Minus1(fx), 2e-5, $"kernel {name}");
        // And the forward kernels agree with the float64 definitions the backward differentiates.
        var y = new float[x.Length];
        switch (name)
        {
            case "gelu_tanh": Activations.GeluTanh(fxs, y, new float[x.Length]); break;
            case "gelu_erf": Activations.GeluErf(fxs, y); break;
            default: Activations.Relu(fxs, y); break;
        }
        AssertClose(Array.ConvertAll(fxs, v => f(v)), y, 1e-5, $"forward {name}");
    }

    [Fact]
    public void EmbeddingBackwardScatterAddsRepeatedIds()
    {
        var rng = new Rng(5);
        int width = 6, count = 5;
        int[] ids = [3, 0, 3, 4, 3];
        var table = Random(rng, count * width);
        var r = Random(rng, ids.Length * width);
        var y = new double[ids.Length * width];
        double Loss()
        {
            BackwardReference.EmbeddingForward(table, width, ids, y);
            return Dot(y, r);
        }
        var dtable = new double[table.Length];
        BackwardReference.EmbeddingBackward(ids, r, width, dtable);
        AssertGradient(Loss, table, dtable, "dtable");
        var ft = Filled(table.Length);
        Backward.Embedding(ids, ToFloat(r), width, ft);
        AssertClose(dtable, Minus1(ft), 1e-6, "kernel dtable");
        Assert.Throws<ArgumentOutOfRangeException>(() => Backward.Embedding([5], new float[width], width, new float[count * width]));
    }

    [Fact]
    public void CrossEntropyIgnoresMinus100AndAveragesOverCountedTargets()
    {
        var rng = new Rng(9);
        int vocab = 7;
        int[] targets = [2, -100, 6, 0, -100];
        var logits = Random(rng, targets.Length * vocab, 3);
        var dlogits = new double[logits.Length];
        BackwardReference.CrossEntropyMean(logits, targets, vocab, -100, dlogits);
        AssertGradient(() => BackwardReference.CrossEntropyMean(logits, targets, vocab, -100, default), logits, dlogits, "dlogits");

        var fg = new float[logits.Length];
        double total = Backward.CrossEntropy(ToFloat(logits), targets, vocab, -100, 1f / 3, fg, out int count);
        Assert.Equal(3, count);
        Assert.Equal(BackwardReference.CrossEntropyMean(logits, targets, vocab, -100, default), total / count, 1e-5);
        AssertClose(dlogits, fg, 1e-6, "kernel dlogits");
        for (int v = 0; v < vocab; v++)
        {
            Assert.Equal(0f, fg[1 * vocab + v]); // ignored rows get no gradient
        }
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Backward.CrossEntropy(new float[vocab], [vocab], vocab, -100, 1f, default, out _));
        Assert.Contains("label 7", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DropoutMaskIsSeededAndScaled()
    {
        var a = new float[10000];
        var b = new float[10000];
        Backward.DropoutMask(new Rng(1), 0.25f, a);
        Backward.DropoutMask(new Rng(1), 0.25f, b);
        Assert.Equal(a, b);
        int dropped = a.Count(v => v == 0f);
        Assert.InRange(dropped, 2300, 2700);
        Assert.All(a, v => Assert.True(v == 0f || Math.Abs(v - 1f / 0.75f) < 1e-6f));
        Backward.DropoutMask(new Rng(1), 0f, a);
        Assert.All(a, v => Assert.Equal(1f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backward.DropoutMask(new Rng(1), 1f, a));
    }

    [Fact]
    public void TransposeSwapsRowsAndColumns()
    {
        int rows = 45, columns = 70;
        var source = Enumerable.Range(0, rows * columns).Select(i => (float)i).ToArray();
        var destination = new float[source.Length];
        Backward.Transpose(source, rows, columns, destination);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                Assert.Equal(source[r * columns + c], destination[c * rows + r]);
            }
        }
    }

    internal static float[] Filled(int length)
    {
        var data = new float[length];
        Array.Fill(data, 1f);
        return data;
    }

    internal static float[] Minus1(float[] data) => Array.ConvertAll(data, v => v - 1f);
}
