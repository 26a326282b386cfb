using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

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

    /// <summary>
    /// Exact GELU (BERT "gelu", BART): x·Φ(x) = 0.5·x·(1 + erf(x/√2)). erf uses Abramowitz–Stegun 7.1.26
    /// (absolute error below 1.5e-7), since .NET has no erf. Vectorized: a scalar exp per element took about a tenth of a
    /// BERT-base forward.
    /// </summary>
    public static void GeluErf(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length)
        {
            throw new ArgumentException("output must be at least as long as the input");
        }
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + Vector512<float>.Count <= x.Length; i += Vector512<float>.Count)
            {
                var value = Vector512.Create(x.Slice(i, Vector512<float>.Count));
                (value * NormalCdf(value)).CopyTo(y.Slice(i, Vector512<float>.Count));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + Vector256<float>.Count <= x.Length; i += Vector256<float>.Count)
            {
                var value = Vector256.Create(x.Slice(i, Vector256<float>.Count));
                (value * NormalCdf(value)).CopyTo(y.Slice(i, Vector256<float>.Count));
            }
        }
        for (; i < x.Length; i++)
        {
            y[i] = x[i] * NormalCdf(x[i]);
        }
    }

    // Φ(x) by Abramowitz–Stegun 7.1.26 on |x|/√2: tail = Φ(-|x|), then Φ(x) = 1 - tail for x ≥ 0. One copy per width;
    // the backward uses the same Φ.
    internal static float NormalCdf(float x)
    {
        float a = MathF.Abs(x) * 0.70710678f;
        float t = 1f / (1f + 0.3275911f * a);
        float tail = 0.5f * t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))))
            * MathF.Exp(-a * a);
        return x >= 0 ? 1f - tail : tail;
    }

    internal static Vector512<float> NormalCdf(Vector512<float> x)
    {
        var a = Vector512.Abs(x) * 0.70710678f;
        var t = Vector512<float>.One / (Vector512<float>.One + 0.3275911f * a);
        var tail = 0.5f * t * (Vector512.Create(0.254829592f) + t * (Vector512.Create(-0.284496736f) + t * (Vector512.Create(1.421413741f)
            + t * (Vector512.Create(-1.453152027f) + t * 1.061405429f)))) * Vector512.Exp(-(a * a));
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One - tail, tail);
    }

    internal static Vector256<float> NormalCdf(Vector256<float> x)
    {
        var a = Vector256.Abs(x) * 0.70710678f;
        var t = Vector256<float>.One / (Vector256<float>.One + 0.3275911f * a);
        var tail = 0.5f * t * (Vector256.Create(0.254829592f) + t * (Vector256.Create(-0.284496736f) + t * (Vector256.Create(1.421413741f)
            + t * (Vector256.Create(-1.453152027f) + t * 1.061405429f)))) * Vector256.Exp(-(a * a));
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.One - tail, tail);
    }

    public static void Relu(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, y);
}
