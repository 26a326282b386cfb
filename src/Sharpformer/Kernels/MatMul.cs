namespace Sharpformer.Kernels;

/// <summary>How a weight matrix is stored.</summary>
public enum WeightLayout
{
    /// <summary>[inFeatures, outFeatures] row-major: GPT-2's Conv1D.</summary>
    InputMajor,

    /// <summary>[outFeatures, inFeatures] row-major: torch.nn.Linear and tied embedding heads.</summary>
    OutputMajor,
}

/// <summary>Matrix multiply for linear layers. (Placeholder: the optimized SIMD, threaded version replaces this.)</summary>
public static class MatMul
{
    /// <summary>
    /// output[m, n] = sum_k input[m, k] * W(k, n) + bias[n] for m in [0, rows), with W stored as <paramref name="layout"/>.
    /// An empty <paramref name="bias"/> means no bias.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, WeightLayout layout, Span<float> output) =>
        Reference.MatMulReference.Forward(input, weight, bias, rows, inFeatures, outFeatures, layout, output);
}
