using System.Runtime.Intrinsics;

namespace Sharpformer.Kernels;

/// <summary>How a weight matrix is stored.</summary>
public enum WeightLayout
{
    /// <summary>[inFeatures, outFeatures] row-major: GPT-2's Conv1D.</summary>
    InputMajor,

    /// <summary>[outFeatures, inFeatures] row-major: torch.nn.Linear and tied embedding heads.</summary>
    OutputMajor,
}

/// <summary>
/// Matrix multiply for linear layers, SIMD and threaded. A few rows (decode) stream the weight once, split across
/// threads; more rows (prefill, training) run a packed, cache-blocked kernel. See <see cref="MatMulKernel{TOps, TVector}"/>.
/// </summary>
public static class MatMul
{
    /// <summary>
    /// output[m, n] = sum_k input[m, k] * W(k, n) + bias[n] for m in [0, rows), with W stored as <paramref name="layout"/>.
    /// An empty <paramref name="bias"/> means no bias.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, WeightLayout layout, Span<float> output) =>
        Forward(input, weight, bias, rows, inFeatures, outFeatures, layout, output, SimdPaths.Default);

    /// <summary>The same, on a chosen SIMD path (tests run every available one).</summary>
    internal static unsafe void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, WeightLayout layout, Span<float> output, SimdPath path)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        if (layout is not (WeightLayout.InputMajor or WeightLayout.OutputMajor))
        {
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "unknown weight layout");
        }
        MatMulShapes.Check(input, weight, bias, rows, inFeatures, outFeatures, output);
        if (rows == 0 || outFeatures == 0)
        {
            return;
        }
        if (inFeatures == 0)
        {
            for (int m = 0; m < rows; m++)
            {
                Span<float> outputRow = output.Slice(m * outFeatures, outFeatures);
                if (bias.IsEmpty)
                {
                    outputRow.Clear();
                }
                else
                {
                    bias.CopyTo(outputRow);
                }
            }
            return;
        }
        fixed (float* inputPointer = input, weightPointer = weight, biasPointer = bias, outputPointer = output)
        {
            var job = new MatMulJob
            {
                Input = inputPointer,
                Weight = weightPointer,
                Bias = bias.IsEmpty ? null : biasPointer,
                Output = outputPointer,
                Rows = rows,
                InFeatures = inFeatures,
                OutFeatures = outFeatures,
                Layout = layout,
            };
            switch (path)
            {
                case SimdPath.Vector512:
                    MatMulKernel<Vector512Ops, Vector512<float>>.Run(&job);
                    break;
                case SimdPath.Vector256:
                    MatMulKernel<Vector256Ops, Vector256<float>>.Run(&job);
                    break;
                case SimdPath.Vector128:
                    MatMulKernel<Vector128Ops, Vector128<float>>.Run(&job);
                    break;
                default:
                    MatMulKernel<ScalarOps, float>.Run(&job);
                    break;
            }
        }
    }
}
