namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar float64 twins of <see cref="BackwardOps"/>: forward and backward from the definitions (gradients accumulate).</summary>
public static class BackwardOpsReference
{
    public static void RmsNormForward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, double epsilon, int width, Span<double> y)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            double inverse = InverseRms(x.Slice(offset, width), epsilon);
            for (int i = 0; i < width; i++)
            {
                y[offset + i] = x[offset + i] * inverse * gamma[i];
            }
        }
    }

    /// <summary>∂y_i/∂x_j = γ_i·(r·δ_ij - x_i·x_j·r³/n), summed against dy.</summary>
    public static void RmsNormBackward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> dy, double epsilon, int width,
        Span<double> dx, Span<double> dgamma)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            double r = InverseRms(x.Slice(offset, width), epsilon);
            for (int i = 0; i < width; i++)
            {
                double g = dy[offset + i];
                dgamma[i] += g * x[offset + i] * r;
                for (int j = 0; j < width; j++)
                {
                    double jacobian = gamma[i] * ((i == j ? r : 0) - x[offset + i] * x[offset + j] * r * r * r / width);
                    dx[offset + j] += g * jacobian;
                }
            }
        }
    }

    public static void MultiplyBackward(ReadOnlySpan<double> a, ReadOnlySpan<double> b, ReadOnlySpan<double> dy, Span<double> da, Span<double> db)
    {
        for (int i = 0; i < a.Length; i++)
        {
            da[i] += dy[i] * b[i];
            db[i] += dy[i] * a[i];
        }
    }

    /// <summary>d tanh(x)/dx = 1 / cosh²(x), from the input.</summary>
    public static void TanhBackward(ReadOnlySpan<double> x, ReadOnlySpan<double> dy, Span<double> dx)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double cosh = Math.Cosh(x[i]);
            dx[i] += dy[i] / (cosh * cosh);
        }
    }

    public static void GatherBias(ReadOnlySpan<double> table, int headCount, ReadOnlySpan<int> buckets, Span<double> bias)
    {
        for (int i = 0; i < buckets.Length; i++)
        {
            for (int h = 0; h < headCount; h++)
            {
                bias[h * buckets.Length + i] = table[buckets[i] * headCount + h];
            }
        }
    }

    public static void GatherBiasBackward(ReadOnlySpan<double> dBias, int headCount, ReadOnlySpan<int> buckets, Span<double> dTable)
    {
        for (int i = 0; i < buckets.Length; i++)
        {
            for (int h = 0; h < headCount; h++)
            {
                dTable[buckets[i] * headCount + h] += dBias[h * buckets.Length + i];
            }
        }
    }

    private static double InverseRms(ReadOnlySpan<double> row, double epsilon)
    {
        double sum = 0;
        foreach (double value in row)
        {
            sum += value * value;
        }
        return 1 / Math.Sqrt(sum / row.Length + epsilon);
    }
}
