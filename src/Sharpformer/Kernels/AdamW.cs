using System.Numerics;

namespace Sharpformer.Kernels;

/// <summary>
/// The per-step constants of torch 1.13's AdamW (single-tensor path), computed once in float64 as Python does and
/// rounded to float32 as torch's float kernels round their scalar arguments.
/// </summary>
public readonly record struct AdamWStep(float DecayFactor, float Beta1, float Beta2, float StepSize, float BiasCorrection2Sqrt, float Epsilon)
{
    /// <param name="step">1 for the first update (torch's state["step"] after its increment).</param>
    public static AdamWStep Create(double learningRate, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(step);
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        return new((float)(1 - learningRate * weightDecay), (float)beta1, (float)beta2, (float)(learningRate / biasCorrection1),
            (float)Math.Sqrt(biasCorrection2), (float)epsilon);
    }
}

/// <summary>One AdamW update over a parameter's values, in torch's operation order so float32 results agree.</summary>
public static class AdamWKernel
{
    /// <summary>
    /// p *= decay; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g·g; p += (−stepSize·m) / (√v / √(1−β2^t) + ε).
    /// <paramref name="firstMoment"/>, <paramref name="secondMoment"/> and <paramref name="parameter"/> are updated in place.
    /// </summary>
    public static void Update(ReadOnlySpan<float> gradient, AdamWStep step, Span<float> firstMoment, Span<float> secondMoment, Span<float> parameter)
    {
        int length = gradient.Length;
        if (firstMoment.Length != length || secondMoment.Length != length || parameter.Length != length)
        {
            throw new ArgumentException($"AdamW: gradient, moments and parameter must have one length (got {length}, {firstMoment.Length}, {secondMoment.Length}, {parameter.Length})");
        }
        float oneMinusBeta1 = (float)(1 - (double)step.Beta1);
        float oneMinusBeta2 = (float)(1 - (double)step.Beta2);
        float negativeStepSize = -step.StepSize;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            var decay = new Vector<float>(step.DecayFactor);
            var beta1 = new Vector<float>(step.Beta1);
            var beta2 = new Vector<float>(step.Beta2);
            var gradientWeight1 = new Vector<float>(oneMinusBeta1);
            var gradientWeight2 = new Vector<float>(oneMinusBeta2);
            var correction = new Vector<float>(step.BiasCorrection2Sqrt);
            var epsilon = new Vector<float>(step.Epsilon);
            var size = new Vector<float>(negativeStepSize);
            for (; i <= length - width; i += width)
            {
                var g = new Vector<float>(gradient[i..]);
                var p = new Vector<float>(parameter[i..]) * decay;
                var m = new Vector<float>(firstMoment[i..]) * beta1 + gradientWeight1 * g;
                var v = new Vector<float>(secondMoment[i..]) * beta2 + gradientWeight2 * g * g;
                var denominator = Vector.SquareRoot(v) / correction + epsilon;
                p += size * m / denominator;
                m.CopyTo(firstMoment[i..]);
                v.CopyTo(secondMoment[i..]);
                p.CopyTo(parameter[i..]);
            }
        }
        for (; i < length; i++)
        {
            float g = gradient[i];
            float p = parameter[i] * step.DecayFactor;
            float m = firstMoment[i] * step.Beta1 + oneMinusBeta1 * g;
            float v = secondMoment[i] * step.Beta2 + oneMinusBeta2 * g * g;
            firstMoment[i] = m;
            secondMoment[i] = v;
            parameter[i] = p + negativeStepSize * m / (MathF.Sqrt(v) / step.BiasCorrection2Sqrt + step.Epsilon);
        }
    }
}
