using Sharpformer.IO;

namespace Sharpformer.Kernels;

/// <summary>
/// Linear layers with bf16 weights and float32 inputs, outputs and accumulation: half the bytes of f32 per decode
/// step. The weight is packed [outFeatures, inFeatures] whatever its checkpoint layout, four rows interleaved
/// (<see cref="LowPrecisionLayout"/>). See
/// <see cref="LowPrecisionKernel{TFormat}"/>; the scalar twin is <see cref="Reference.MatMulLowPrecisionReference"/>.
/// </summary>
public static class MatMulBf16
{
    /// <summary>
    /// Rounds <paramref name="weight"/> (stored as <paramref name="layout"/>) to bf16, nearest even, as [out, in] in the
    /// decode-friendly order of <see cref="LowPrecisionLayout"/>.
    /// </summary>
    public static void Pack(ReadOnlySpan<float> weight, int inFeatures, int outFeatures, WeightLayout layout, Span<ushort> packed)
    {
        LowPrecisionShapes.CheckWeight(weight, inFeatures, outFeatures, layout, packed.Length);
        var row = new float[inFeatures];
        var rounded = new ushort[inFeatures];
        for (int n = 0; n < outFeatures; n++)
        {
            LowPrecisionShapes.OutputRow(weight, inFeatures, outFeatures, layout, n, row);
            for (int k = 0; k < inFeatures; k++)
            {
                rounded[k] = Float16.SingleToBFloat16(row[k]);
            }
            LowPrecisionLayout.ScatterRow<ushort>(rounded, packed, n, inFeatures, outFeatures);
        }
    }

    /// <summary>output[m, n] = sum_k input[m, k] · weight[n, k] + bias[n]; an empty bias means none.</summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<ushort> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, Span<float> output) =>
        LowPrecisionForward.Run<BFloat16Format, ushort>(input, weight, [], bias, rows, inFeatures, outFeatures, output, scaled: false);
}
