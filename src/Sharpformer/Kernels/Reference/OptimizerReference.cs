namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar twin of <see cref="AdamWKernel"/>: the same float32 operations, one element at a time.</summary>
public static class OptimizerReference
{
    public static void AdamW(ReadOnlySpan<float> gradient, AdamWStep step, Span<float> firstMoment, Span<float> secondMoment, Span<float> parameter)
    {
        for (int i = 0; i < gradient.Length; i++)
        {
            float g = gradient[i];
            parameter[i] *= step.DecayFactor;
            firstMoment[i] = firstMoment[i] * step.Beta1 + (float)(1 - (double)step.Beta1) * g;
            secondMoment[i] = secondMoment[i] * step.Beta2 + (float)(1 - (double)step.Beta2) * g * g;
            float denominator = MathF.Sqrt(secondMoment[i]) / step.BiasCorrection2Sqrt + step.Epsilon;
            parameter[i] += -step.StepSize * firstMoment[i] / denominator;
        }
    }
}
