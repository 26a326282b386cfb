namespace Sharpformer.Tests.Autograd;

/// <summary>Central finite differences in float64 for gradient checks.</summary>
public static class GradientCheck
{
    /// <summary>
    /// Asserts that <paramref name="analytic"/> equals the central difference of <paramref name="loss"/> with respect to
    /// every entry of <paramref name="parameter"/> (perturbed in place, then restored).
    /// </summary>
    public static void AssertGradient(Func<double> loss, double[] parameter, double[] analytic, string what, double step = 1e-6, double tolerance = 1e-6)
    {
        Xunit.Assert.Equal(parameter.Length, analytic.Length);
        double worst = 0;
        for (int i = 0; i < parameter.Length; i++)
        {
            double saved = parameter[i];
            parameter[i] = saved + step;
            double plus = loss();
            parameter[i] = saved - step;
            double minus = loss();
            parameter[i] = saved;
            double numeric = (plus - minus) / (2 * step);
            double error = Math.Abs(numeric - analytic[i]) / Math.Max(1, Math.Abs(numeric));
            worst = Math.Max(worst, error);
            Xunit.Assert.True(error <= tolerance, $"{what}[{i}]: analytic {analytic[i]} vs finite difference {numeric}");
        }
        Xunit.Assert.True(worst <= tolerance, $"{what}: worst error {worst}");
    }

    public static double[] Random(Tensors.Rng rng, int length, double scale = 1)
    {
        var data = new double[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = rng.NextNormal() * scale;
        }
        return data;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }

    public static float[] ToFloat(double[] values) => Array.ConvertAll(values, v => (float)v);

    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>Asserts float32 values match float64 ones within an absolute tolerance scaled by the magnitude.</summary>
    public static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]);
            Xunit.Assert.True(error <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]} vs reference {expected[i]}");
        }
    }
}
