using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>Numerically stable softmax (scalar twin: Reference/ElementwiseReference.Softmax).</summary>
public static class Softmax
{
    /// <summary>
    /// y = exp(x - max) / Σ exp(x - max). TensorPrimitives.SoftMax exponentiates x as it is, so a score above ~88
    /// overflows to ∞ and the row turns to NaN (it did, mid-way through training the default model): the max goes first.
    /// -∞ entries get weight 0; a row of only -∞ gets NaN, so callers clear such rows first (uniform weights, as HF).
    /// </summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.IsEmpty)
        {
            return;
        }
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.SoftMax(y, y);
    }
}
