namespace Sharpformer.Kernels.Reference;

/// <summary>Scalar twin of <see cref="MatMul"/>: the definition the optimized kernel is tested against.</summary>
public static class MatMulReference
{
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, WeightLayout layout, Span<float> output)
    {
        MatMulShapes.Check(input, weight, bias, rows, inFeatures, outFeatures, output);
        for (int m = 0; m < rows; m++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                double sum = bias.IsEmpty ? 0 : bias[n];
                for (int k = 0; k < inFeatures; k++)
                {
                    float w = layout == WeightLayout.InputMajor ? weight[k * outFeatures + n] : weight[n * inFeatures + k];
                    sum += (double)input[m * inFeatures + k] * w;
                }
                output[m * outFeatures + n] = (float)sum;
            }
        }
    }
}
