using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Layers;

/// <summary>torch.nn.LayerNorm over the last dimension.</summary>
public sealed partial class LayerNorm
{
    public LayerNorm(Tensor weight, Tensor? bias, float epsilon)
    {
        Weight = weight;
        Bias = bias;
        Epsilon = epsilon;
    }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    public float Epsilon { get; }

    public int Width => Weight.Length;

    public void Forward(ReadOnlySpan<float> input, Span<float> output) =>
        Norms.LayerNorm(input, Weight.Span, Bias is null ? default : Bias.Span, Epsilon, Width, output);
}

/// <summary>RMS norm (T5LayerNorm): no mean subtraction, no bias.</summary>
public sealed partial class RmsNorm
{
    public RmsNorm(Tensor weight, float epsilon)
    {
        Weight = weight;
        Epsilon = epsilon;
    }

    public Tensor Weight { get; }

    public float Epsilon { get; }

    public void Forward(ReadOnlySpan<float> input, Span<float> output) => Norms.RmsNorm(input, Weight.Span, Epsilon, Weight.Length, output);
}
