namespace Sharpformer.Kernels;

/// <summary>
/// Linear layers with float32 weights copied into <see cref="LowPrecisionLayout"/>'s order ([out, in], four rows
/// interleaved in blocks of 32): the same arithmetic as <see cref="MatMul"/>, but a decode step reads the weight as one
/// contiguous stream. Runs on <see cref="LowPrecisionKernel{TFormat}"/>; the scalar twin is
/// <see cref="Reference.MatMulLowPrecisionReference.Float32PackedForward"/>.
/// </summary>
public static class MatMulF32Packed
{
    /// <summary>Copies <paramref name="weight"/> (stored as <paramref name="layout"/>) as [out, in] in the interleaved order.</summary>
    public static void Pack(ReadOnlySpan<float> weight, int inFeatures, int outFeatures, WeightLayout layout, Span<float> packed)
    {
        LowPrecisionShapes.CheckWeight(weight, inFeatures, outFeatures, layout, packed.Length);
        var row = new float[inFeatures];
        for (int n = 0; n < outFeatures; n++)
        {
            LowPrecisionShapes.OutputRow(weight, inFeatures, outFeatures, layout, n, row);
            LowPrecisionLayout.ScatterRow<float>(row, packed, n, inFeatures, outFeatures);
        }
    }

    /// <summary>output[m, n] = sum_k input[m, k] · weight[n, k] + bias[n]; an empty bias means none.</summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, Span<float> output) =>
        LowPrecisionForward.Run<Float32Format, float>(input, weight, [], bias, rows, inFeatures, outFeatures, output, scaled: false);
}
