using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>Normalization kernels over rows of a [rows, width] matrix.</summary>
public static class Norms
{
    /// <summary>y = (x - mean) / sqrt(var + eps) * gamma + beta, per row of <paramref name="width"/> values (biased variance, as torch).</summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float epsilon, int width, Span<float> y)
    {
        CheckRows(x, width, y);
        if (gamma.Length != width || (!beta.IsEmpty && beta.Length != width))
        {
            throw new ArgumentException($"layer norm parameters must hold {width} values (gamma {gamma.Length}, beta {beta.Length})");
        }
        for (int offset = 0; offset < x.Length; offset += width)
        {
            var row = x.Slice(offset, width);
            var outRow = y.Slice(offset, width);
            float mean = TensorPrimitives.Sum(row) / width;
            // Two-pass variance: subtract the mean first, which keeps float32 error low on large activations.
            TensorPrimitives.Subtract(row, mean, outRow);
            float variance = TensorPrimitives.SumOfSquares(outRow) / width;
            float inverse = 1f / MathF.Sqrt(variance + epsilon);
            TensorPrimitives.Multiply(outRow, inverse, outRow);
            if (beta.IsEmpty)
            {
                TensorPrimitives.Multiply(outRow, gamma, outRow);
            }
            else
            {
                TensorPrimitives.FusedMultiplyAdd(outRow, gamma, beta, outRow);
            }
        }
    }

    /// <summary>RMS norm (T5): y = x / sqrt(mean(x²) + eps) * gamma, no mean subtraction, no bias.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, float epsilon, int width, Span<float> y)
    {
        CheckRows(x, width, y);
        for (int offset = 0; offset < x.Length; offset += width)
        {
            var row = x.Slice(offset, width);
            float inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / width + epsilon);
            TensorPrimitives.Multiply(row, inverse, y.Slice(offset, width));
            TensorPrimitives.Multiply(y.Slice(offset, width), gamma, y.Slice(offset, width));
        }
    }

    private static void CheckRows(ReadOnlySpan<float> x, int width, Span<float> y)
    {
        if (width <= 0 || x.Length % width != 0 || y.Length < x.Length)
        {
            throw new ArgumentException($"rows of width {width}: input holds {x.Length} values, output {y.Length}");
        }
    }
}
