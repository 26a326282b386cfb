using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

public sealed class OptimizerTests
{
    [Fact]
    public void AdamWKernelAgreesWithItsScalarTwin()
    {
        var rng = new Rng(3);
        const int length = 1037; // vector body and a scalar tail
        float[] gradient = new float[length], parameter = new float[length], m = new float[length], v = new float[length];
        rng.FillNormal(gradient);
        rng.FillNormal(parameter);
        rng.FillNormal(m, 0.1f);
        rng.FillUniform(v, 0f, 0.01f);
        float[] parameter2 = [.. parameter], m2 = [.. m], v2 = [.. v];
        var step = AdamWStep.Create(3e-3, 0.9, 0.999, 1e-8, 0.01, step: 7);
        AdamWKernel.Update(gradient, step, m, v, parameter);
        OptimizerReference.AdamW(gradient, step, m2, v2, parameter2);
        Assert.Equal(m2, m);
        Assert.Equal(v2, v);
        for (int i = 0; i < length; i++)
        {
            Assert.True(Math.Abs(parameter[i] - parameter2[i]) <= 1e-7f * Math.Max(1, Math.Abs(parameter2[i])), $"element {i}: {parameter[i]} vs {parameter2[i]}");
        }
    }

    // torch 1.13 _single_tensor_adamw in float64, written out from its source.
    private static void TorchAdamW(double[] p, double[] g, double[] m, double[] v, int t, double lr, double wd)
    {
        const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] *= 1 - lr * wd;
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double denominator = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
            p[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / denominator;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AdamWFollowsTorchsFormulaOverSeveralSteps(bool decayAll)
    {
        var rng = new Rng(11);
        var matrix = new Parameter("w", Tensor.Zeros(3, 5), weightDecay: true);
        var bias = new Parameter("b", Tensor.Zeros(5), weightDecay: false);
        rng.FillNormal(matrix.Value.Span);
        rng.FillNormal(bias.Value.Span);
        var parameters = new[] { matrix, bias };
        var optimizer = new AdamW(parameters, new AdamWOptions { LearningRate = 0.05, WeightDecay = 0.1, DecayAllParameters = decayAll });
        var expected = parameters.Select(p => p.Value.Span.ToArray().Select(x => (double)x).ToArray()).ToArray();
        var moments1 = expected.Select(p => new double[p.Length]).ToArray();
        var moments2 = expected.Select(p => new double[p.Length]).ToArray();
        double[] rates = [0.05, 0.03, 0.01, 0.04];
        for (int t = 1; t <= rates.Length; t++)
        {
            for (int k = 0; k < parameters.Length; k++)
            {
                rng.FillNormal(parameters[k].Gradient);
                var gradient = parameters[k].Gradient.Select(x => (double)x).ToArray();
                TorchAdamW(expected[k], gradient, moments1[k], moments2[k], t, rates[t - 1], decayAll || parameters[k].WeightDecay ? 0.1 : 0);
            }
            optimizer.Step(rates[t - 1]);
        }
        Assert.Equal(rates.Length, optimizer.StepCount);
        for (int k = 0; k < parameters.Length; k++)
        {
            for (int i = 0; i < expected[k].Length; i++)
            {
                Assert.True(Math.Abs(parameters[k].Value.Span[i] - expected[k][i]) < 1e-6, $"{parameters[k].Name}[{i}]: {parameters[k].Value.Span[i]} vs {expected[k][i]}");
            }
        }
    }

    [Fact]
    public void AdamWDecaysOnlyMarkedParametersUnlessToldToDecayAll()
    {
        // Zero gradients: only the decoupled decay moves a parameter (m = v = 0, so the Adam term is 0).
        var marked = new Parameter("w", Tensor.FromArray([2f], 1), weightDecay: true);
        var spared = new Parameter("b", Tensor.FromArray([2f], 1), weightDecay: false);
        new AdamW([marked, spared], new AdamWOptions { WeightDecay = 0.5 }).Step(0.1);
        Assert.Equal(2f * (1 - 0.05f), marked.Value.Span[0], 6);
        Assert.Equal(2f, spared.Value.Span[0]);
        new AdamW([spared], new AdamWOptions { WeightDecay = 0.5, DecayAllParameters = true }).Step(0.1);
        Assert.Equal(2f * (1 - 0.05f), spared.Value.Span[0], 6);
    }

    [Fact]
    public void ClippingScalesEveryGradientByMaxOverTotalPlusEpsilon()
    {
        var a = new Parameter("a", Tensor.Zeros(2), weightDecay: true);
        var b = new Parameter("b", Tensor.Zeros(1), weightDecay: true);
        a.Gradient[0] = 3;
        a.Gradient[1] = 4;
        b.Gradient[0] = 12; // total norm 13
        double total = GradientClipping.ClipByTotalNorm([a, b], maxNorm: 1.0);
        Assert.Equal(13.0, total, 6);
        double coefficient = 1.0 / (13 + 1e-6);
        Assert.Equal(3 * coefficient, a.Gradient[0], 6);
        Assert.Equal(12 * coefficient, b.Gradient[0], 6);
        Assert.Equal(1.0, GradientClipping.TotalNorm([a, b]), 5);
    }

    [Fact]
    public void ClippingLeavesSmallGradientsAlone()
    {
        var a = new Parameter("a", Tensor.Zeros(2), weightDecay: true);
        a.Gradient[0] = 0.3f;
        a.Gradient[1] = 0.4f;
        Assert.Equal(0.5, GradientClipping.ClipByTotalNorm([a], maxNorm: 1.0), 6);
        Assert.Equal([0.3f, 0.4f], a.Gradient);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByTotalNorm([a], 0));
    }

    [Fact]
    public void ScheduleWarmsUpLinearlyThenFollowsHalfACosineToZero()
    {
        var schedule = new WarmupCosineSchedule(1e-3, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(0, schedule.At(0)); // HF: the first update runs at lambda(0) = 0 when warming up
        Assert.Equal(0.5e-3, schedule.At(5), 12);
        Assert.Equal(1e-3, schedule.At(10), 12);
        Assert.Equal(0.5e-3, schedule.At(60), 12); // halfway through the cosine
        Assert.Equal(1e-3 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), schedule.At(35), 12);
        Assert.Equal(0, schedule.At(110), 12);
        var noWarmup = new WarmupCosineSchedule(2.0, 0, 4);
        Assert.Equal(new[] { 2.0, 2 * 0.5 * (1 + Math.Cos(Math.PI / 4)), 1.0 }, new[] { noWarmup.At(0), noWarmup.At(1), noWarmup.At(2) });
    }

    [Fact]
    public void RngStateRoundTripsAndContinuesTheSameStream()
    {
        var rng = new Rng(42);
        rng.NextUInt32();
        var state = RngState.Parse(rng.State.ToString());
        uint[] expected = [rng.NextUInt32(), rng.NextUInt32(), rng.NextUInt32()];
        var restored = new Rng(0) { State = state };
        Assert.Equal(expected, new[] { restored.NextUInt32(), restored.NextUInt32(), restored.NextUInt32() });
        Assert.Throws<FormatException>(() => RngState.Parse("xyz"));
    }
}
