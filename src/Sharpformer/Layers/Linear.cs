using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Layers;

/// <summary>y = x·W + b over rows, with W stored either way round (see <see cref="WeightLayout"/>).</summary>
public sealed partial class Linear
{
    private Tensor? _weight; // null once released after a low-precision conversion

    public Linear(Tensor weight, Tensor? bias, WeightLayout layout)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
        {
            throw new ArgumentException($"a linear weight must be 2-D, got {weight}");
        }
        _weight = weight;
        Bias = bias;
        Layout = layout;
        InFeatures = layout == WeightLayout.InputMajor ? weight.Shape[0] : weight.Shape[1];
        OutFeatures = layout == WeightLayout.InputMajor ? weight.Shape[1] : weight.Shape[0];
        if (bias is not null && bias.Length != OutFeatures)
        {
            throw new ArgumentException($"bias {bias} does not match {OutFeatures} output features");
        }
        Collected?.Add(this);
        if (ConvertOnCreate is { } type)
        {
            ConvertWeights(type, keepFloat32: false);
            CollectReleasedWeights();
        }
    }

    /// <summary>
    /// The float32 weight, as <see cref="Layout"/> stores it: what training, export and <see cref="ConvertWeights"/> read.
    /// Throws once <see cref="ConvertWeights"/> released it (an inference-only bf16/int8 load).
    /// </summary>
    public Tensor Weight => _weight ?? throw ReleasedError();

    public Tensor? Bias { get; }

    public WeightLayout Layout { get; }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    /// <summary>input [rows, InFeatures] → output [rows, OutFeatures].</summary>
    public void Forward(ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        if (WeightType != WeightType.Float32)
        {
            ForwardLowPrecision(input, rows, output);
            return;
        }
        MatMul.Forward(input[..(rows * InFeatures)], Weight.Span, Bias is null ? default : Bias.Span, rows, InFeatures, OutFeatures, Layout,
            output[..(rows * OutFeatures)]);
    }
}
