namespace Sharpformer.Kernels;

/// <summary>
/// Linear layers with int8 weights (symmetric, one float32 scale per output channel: w ≈ scale[n] · q[n, k]) and
/// float32 inputs, outputs and accumulation: a quarter of the bytes of f32 per decode step. Only the weights are
/// quantized; activations stay float32. See <see cref="LowPrecisionKernel{TFormat}"/>; the scalar twin is
/// <see cref="Reference.MatMulLowPrecisionReference"/>.
/// </summary>
public static class MatMulInt8
{
    /// <summary>
    /// Quantizes <paramref name="weight"/> (stored as <paramref name="layout"/>) to [out, in] int8 with
    /// scale[n] = max_k |w[n, k]| / 127 and q = round(w / scale), so every channel uses the full range; the codes are laid
    /// out as <see cref="LowPrecisionLayout"/> says.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> weight, int inFeatures, int outFeatures, WeightLayout layout,
        Span<sbyte> quantized, Span<float> scales)
    {
        LowPrecisionShapes.CheckWeight(weight, inFeatures, outFeatures, layout, quantized.Length);
        if (scales.Length != outFeatures)
        {
            throw new ArgumentException($"scales hold {scales.Length} floats, expected one per output feature ({outFeatures})", nameof(scales));
        }
        var row = new float[inFeatures];
        var codes = new sbyte[inFeatures];
        for (int n = 0; n < outFeatures; n++)
        {
            LowPrecisionShapes.OutputRow(weight, inFeatures, outFeatures, layout, n, row);
            float maxAbs = 0f;
            foreach (float value in row)
            {
                if (!float.IsFinite(value))
                {
                    throw new ArgumentException($"weight row {n} holds {value}; int8 quantization needs finite weights", nameof(weight));
                }
                maxAbs = MathF.Max(maxAbs, MathF.Abs(value));
            }
            float scale = maxAbs / 127f;
            scales[n] = scale;
            for (int k = 0; k < inFeatures; k++)
            {
                codes[k] = scale == 0f ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(row[k] / scale), -127f, 127f);
            }
            LowPrecisionLayout.ScatterRow<sbyte>(codes, quantized, n, inFeatures, outFeatures);
        }
    }

    /// <summary>output[m, n] = scale[n] · sum_k input[m, k] · weight[n, k] + bias[n]; an empty bias means none.</summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<sbyte> weight, ReadOnlySpan<float> scales,
        ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures, Span<float> output) =>
        LowPrecisionForward.Run<Int8Format, sbyte>(input, weight, scales, bias, rows, inFeatures, outFeatures, output, scaled: true);
}
