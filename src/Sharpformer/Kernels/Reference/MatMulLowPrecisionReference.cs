namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar twins of <see cref="MatMulBf16"/> and <see cref="MatMulInt8"/>: decode each weight (found
/// through <see cref="LowPrecisionLayout.Index"/>), sum in double.</summary>
public static class MatMulLowPrecisionReference
{
    public static void Bf16Forward(ReadOnlySpan<float> input, ReadOnlySpan<ushort> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        LowPrecisionShapes.Check(input.Length, weight.Length, 0, bias.Length, output.Length, rows, inFeatures, outFeatures, scaled: false);
        for (int m = 0; m < rows; m++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                double sum = 0;
                for (int k = 0; k < inFeatures; k++)
                {
                    sum += (double)input[m * inFeatures + k] * BitConverter.Int32BitsToSingle(weight[(int)LowPrecisionLayout.Index(n, k, inFeatures, outFeatures)] << 16);
                }
                output[m * outFeatures + n] = (float)sum + (bias.IsEmpty ? 0f : bias[n]);
            }
        }
    }

    public static void Int8Forward(ReadOnlySpan<float> input, ReadOnlySpan<sbyte> weight, ReadOnlySpan<float> scales,
        ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        LowPrecisionShapes.Check(input.Length, weight.Length, scales.Length, bias.Length, output.Length, rows, inFeatures, outFeatures, scaled: true);
        for (int m = 0; m < rows; m++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                double sum = 0;
                for (int k = 0; k < inFeatures; k++)
                {
                    sum += (double)input[m * inFeatures + k] * weight[(int)LowPrecisionLayout.Index(n, k, inFeatures, outFeatures)];
                }
                output[m * outFeatures + n] = (float)(sum * scales[n]) + (bias.IsEmpty ? 0f : bias[n]);
            }
        }
    }

    public static void Float32PackedForward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        LowPrecisionShapes.Check(input.Length, weight.Length, 0, bias.Length, output.Length, rows, inFeatures, outFeatures, scaled: false);
        for (int m = 0; m < rows; m++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                double sum = 0;
                for (int k = 0; k < inFeatures; k++)
                {
                    sum += (double)input[m * inFeatures + k] * weight[(int)LowPrecisionLayout.Index(n, k, inFeatures, outFeatures)];
                }
                output[m * outFeatures + n] = (float)sum + (bias.IsEmpty ? 0f : bias[n]);
            }
        }
    }
}
