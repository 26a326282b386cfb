namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar twins of <see cref="MatMulBf16"/>, <see cref="MatMulInt8"/> and <see cref="MatMulF32Packed"/>: decode
/// each weight (found through <see cref="LowPrecisionLayout.Index"/>), sum in double.</summary>
public static class MatMulLowPrecisionReference
{
    public static void Bf16Forward(ReadOnlySpan<float> input, ReadOnlySpan<ushort> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        LowPrecisionShapes.Check(input.Length, weight.Length, 0, bias.Length, output.Length, rows, inFeatures, outFeatures, scaled: false);
        var values = weight.ToArray();
        Forward(input, index => BitConverter.Int32BitsToSingle(values[index] << 16), [], bias, rows, inFeatures, outFeatures, output);
    }

    public static void Int8Forward(ReadOnlySpan<float> input, ReadOnlySpan<sbyte> weight, ReadOnlySpan<float> scales,
        ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        LowPrecisionShapes.Check(input.Length, weight.Length, scales.Length, bias.Length, output.Length, rows, inFeatures, outFeatures, scaled: true);
        var values = weight.ToArray();
        Forward(input, index => values[index], scales, bias, rows, inFeatures, outFeatures, output);
    }

    public static void Float32PackedForward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        LowPrecisionShapes.Check(input.Length, weight.Length, 0, bias.Length, output.Length, rows, inFeatures, outFeatures, scaled: false);
        var values = weight.ToArray();
        Forward(input, index => values[index], [], bias, rows, inFeatures, outFeatures, output);
    }

    // output[m, n] = scale[n] · sum_k input[m, k] · w(n, k) + bias[n], with w read at its packed index; no scales = 1.
    private static void Forward(ReadOnlySpan<float> input, Func<int, double> weightAt, ReadOnlySpan<float> scales,
        ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        for (int m = 0; m < rows; m++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                double sum = 0;
                for (int k = 0; k < inFeatures; k++)
                {
                    sum += (double)input[m * inFeatures + k] * weightAt((int)LowPrecisionLayout.Index(n, k, inFeatures, outFeatures));
                }
                output[m * outFeatures + n] = (float)(scales.IsEmpty ? sum : sum * scales[n]) + (bias.IsEmpty ? 0f : bias[n]);
            }
        }
    }
}
