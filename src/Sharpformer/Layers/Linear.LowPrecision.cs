using Sharpformer.Kernels;

namespace Sharpformer.Layers;

/// <summary>Inference with a bf16 or int8 copy of the weight (see <see cref="WeightType"/>).</summary>
public sealed partial class Linear
{
    // Linears constructed on this thread while a model is being built (see CollectCreated).
    [ThreadStatic]
    private static List<Linear>? Collected;

    private ushort[]? _bf16Weight;  // [out, in]
    private sbyte[]? _int8Weight;   // [out, in]
    private float[]? _int8Scales;   // [out]

    /// <summary>The weight <see cref="Forward"/> multiplies by: the f32 <see cref="Weight"/> or a low-precision copy of it.</summary>
    public WeightType WeightType { get; private set; }

    /// <summary>
    /// Makes <see cref="Forward"/> use a <paramref name="type"/> copy of <see cref="Weight"/> (made now, once; Float32
    /// drops it). <see cref="Weight"/> itself is untouched and still what training and tied embeddings read, so
    /// convert again after changing it.
    /// </summary>
    public void ConvertWeights(WeightType type)
    {
        _bf16Weight = null;
        _int8Weight = null;
        _int8Scales = null;
        switch (type)
        {
            case WeightType.Float32:
                break;
            case WeightType.BFloat16:
                _bf16Weight = new ushort[Weight.Length];
                MatMulBf16.Pack(Weight.Span, InFeatures, OutFeatures, Layout, _bf16Weight);
                break;
            case WeightType.Int8:
                _int8Weight = new sbyte[Weight.Length];
                _int8Scales = new float[OutFeatures];
                MatMulInt8.Quantize(Weight.Span, InFeatures, OutFeatures, Layout, _int8Weight, _int8Scales);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "unknown weight type");
        }
        WeightType = type;
    }

    /// <summary>
    /// Runs <paramref name="build"/> and returns, in <paramref name="created"/>, every Linear it constructed on this
    /// thread: how a loader converts a whole model's weights without each family listing its layers.
    /// </summary>
    public static T CollectCreated<T>(Func<T> build, out IReadOnlyList<Linear> created)
    {
        ArgumentNullException.ThrowIfNull(build);
        var previous = Collected;
        var list = new List<Linear>();
        Collected = list;
        try
        {
            T result = build();
            created = list;
            return result;
        }
        finally
        {
            Collected = previous;
            previous?.AddRange(list);
        }
    }

    private void ForwardLowPrecision(ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        ReadOnlySpan<float> bias = Bias is null ? default : Bias.Span;
        if (_bf16Weight is not null)
        {
            MatMulBf16.Forward(input[..(rows * InFeatures)], _bf16Weight, bias, rows, InFeatures, OutFeatures, output[..(rows * OutFeatures)]);
        }
        else
        {
            MatMulInt8.Forward(input[..(rows * InFeatures)], _int8Weight, _int8Scales, bias, rows, InFeatures, OutFeatures,
                output[..(rows * OutFeatures)]);
        }
    }
}
