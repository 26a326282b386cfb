using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>Element-wise activations; x and y may be the same span.</summary>
public static class Activations
{
    private const float SqrtTwoOverPi = 0.7978845608028654f;

    /// <summary>GPT-2's "gelu_new" (tanh approximation): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch)
    {
        if (y.Length < x.Length || scratch.Length < x.Length)
        {
            throw new ArgumentException("output and scratch must be at least as long as the input");
        }
        var inner = scratch[..x.Length];
        TensorPrimitives.Multiply(x, x, inner);                    // x²
        TensorPrimitives.Multiply(inner, 0.044715f, inner);
        TensorPrimitives.Add(inner, 1f, inner);                    // 1 + 0.044715·x²
        TensorPrimitives.Multiply(inner, x, inner);                // x + 0.044715·x³
        TensorPrimitives.Multiply(inner, SqrtTwoOverPi, inner);
        TensorPrimitives.Tanh(inner, inner);
        TensorPrimitives.Add(inner, 1f, inner);
        TensorPrimitives.Multiply(inner, x, inner);
        TensorPrimitives.Multiply(inner, 0.5f, y[..x.Length]);
    }

    public static void Relu(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, y);
}
