namespace Sharpformer.Kernels;

internal static class MatMulShapes
{
    public static void Check(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures, Span<float> output)
    {
        if (input.Length < (long)rows * inFeatures)
        {
            throw new ArgumentException($"input holds {input.Length} floats, [{rows}, {inFeatures}] needs {(long)rows * inFeatures}");
        }
        if (weight.Length != (long)inFeatures * outFeatures)
        {
            throw new ArgumentException($"weight holds {weight.Length} floats, [{inFeatures}, {outFeatures}] needs {(long)inFeatures * outFeatures}");
        }
        if (!bias.IsEmpty && bias.Length != outFeatures)
        {
            throw new ArgumentException($"bias holds {bias.Length} floats, expected {outFeatures}");
        }
        if (output.Length < (long)rows * outFeatures)
        {
            throw new ArgumentException($"output holds {output.Length} floats, [{rows}, {outFeatures}] needs {(long)rows * outFeatures}");
        }
    }
}
