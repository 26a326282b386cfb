namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar float64 twins of <see cref="BackwardOps"/>: forward and backward from the definitions (gradients accumulate).</summary>
public static class BackwardOpsReference
{
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
}
