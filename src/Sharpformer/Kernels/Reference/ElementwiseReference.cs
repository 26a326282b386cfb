namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar twins of the norm, activation and softmax kernels, computed in float64.</summary>
public static class ElementwiseReference
{
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float epsilon, int width, Span<float> y)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            double mean = 0;
            for (int i = 0; i < width; i++)
            {
                mean += x[offset + i];
            }
            mean /= width;
            double variance = 0;
            for (int i = 0; i < width; i++)
            {
                double d = x[offset + i] - mean;
                variance += d * d;
            }
            variance /= width;
            double inverse = 1.0 / Math.Sqrt(variance + epsilon);
            for (int i = 0; i < width; i++)
            {
                y[offset + i] = (float)((x[offset + i] - mean) * inverse * gamma[i] + (beta.IsEmpty ? 0 : beta[i]));
            }
        }
    }

    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, float epsilon, int width, Span<float> y)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            double meanSquare = 0;
            for (int i = 0; i < width; i++)
            {
                meanSquare += (double)x[offset + i] * x[offset + i];
            }
            double inverse = 1.0 / Math.Sqrt(meanSquare / width + epsilon);
            for (int i = 0; i < width; i++)
            {
                y[offset + i] = (float)(x[offset + i] * inverse * gamma[i]);
            }
        }
    }

    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (v + 0.044715 * v * v * v))));
        }
    }

    public static void GeluErf(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + Erf(v / Math.Sqrt(2.0))));
        }
    }

    /// <summary>erf by its Maclaurin series in float64 (accurate to ~1e-9 for |z| &lt; 4.5; ±1 beyond, where erfc &lt; 3e-10).</summary>
    public static double Erf(double z)
    {
        if (Math.Abs(z) >= 4.5)
        {
            return Math.Sign(z);
        }
        double sum = 0, term = z;
        for (int n = 0; n < 200; n++)
        {
            double contribution = term / (2 * n + 1);
            sum += contribution;
            if (Math.Abs(contribution) < 1e-17 * Math.Abs(sum))
            {
                break;
            }
            term *= -z * z / (n + 1);
        }
        return 2.0 / Math.Sqrt(Math.PI) * sum;
    }

    public static void Softmax(ReadOnlySpan<float> x, Span<float> y)
    {
        double max = double.NegativeInfinity;
        foreach (float v in x)
        {
            max = Math.Max(max, v);
        }
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += Math.Exp(x[i] - max);
        }
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = (float)(Math.Exp(x[i] - max) / sum);
        }
    }
}
