using Sharpformer.Tensors;
using Sharpformer.Kernels;

namespace Sharpformer.Layers;

/// <summary>Inference with a bf16 or int8 copy of the weight (see <see cref="WeightType"/>).</summary>
public sealed partial class Linear
{
    // Linears constructed on this thread while a model is being built (see CollectCreated).
    [ThreadStatic]
    private static List<Linear>? Collected;

    // Set by ConvertWhileBuilding: every Linear constructed on this thread converts and releases its f32 weight at once.
    [ThreadStatic]
    private static WeightType? ConvertOnCreate;

    // f32 bytes released on this thread since the last collection ConvertWhileBuilding asked for.
    [ThreadStatic]
    private static long ReleasedSinceCollection;

    // Collect the released f32 tensors every this many bytes, so a build's peak stays near what the model keeps.
    private const long CollectionInterval = 32L << 20;

    private AlignedArray<ushort>? _bf16Weight;  // [out, in], rows interleaved as LowPrecisionLayout says
    private AlignedArray<sbyte>? _int8Weight;   // [out, in], rows interleaved as LowPrecisionLayout says
    private float[]? _int8Scales;   // [out]
    private AlignedArray<float>? _packedWeight; // f32 [out, in], rows interleaved as LowPrecisionLayout says

    /// <summary>The weight <see cref="Forward"/> multiplies by: the f32 <see cref="Weight"/> or a low-precision copy of it.</summary>
    public WeightType WeightType { get; private set; }

    /// <summary>False once <see cref="ConvertWeights"/> released the f32 weight: the layer then only runs inference.</summary>
    public bool HasFloat32Weight => _weight is not null;

    /// <summary>
    /// Makes <see cref="Forward"/> use a <paramref name="type"/> copy of <see cref="Weight"/> (made now, once; Float32
    /// drops it). With <paramref name="keepFloat32"/> (the default) <see cref="Weight"/> stays, untouched, for training
    /// and export, so convert again after changing it. Without it the layer lets go of the f32 tensor (half or three
    /// quarters of its memory for an inference-only load), and <see cref="Weight"/>, training and any later conversion to
    /// another type throw, saying so.
    /// </summary>
    public void ConvertWeights(WeightType type, bool keepFloat32 = true)
    {
        if (_weight is null)
        {
            if (type == WeightType)
            {
                return;
            }
            throw ReleasedError();
        }
        if (type == WeightType.Float32 && !keepFloat32)
        {
            throw new ArgumentException("the float32 weight cannot be released when it is the one Forward uses", nameof(keepFloat32));
        }
        _bf16Weight = null;
        _int8Weight = null;
        _int8Scales = null;
        _packedWeight = null;
        switch (type)
        {
            case WeightType.Float32:
                break;
            case WeightType.BFloat16:
                _bf16Weight = new AlignedArray<ushort>(_weight.Length);
                MatMulBf16.Pack(_weight.Span, InFeatures, OutFeatures, Layout, _bf16Weight.Span);
                break;
            case WeightType.Int8:
                _int8Weight = new AlignedArray<sbyte>(_weight.Length);
                _int8Scales = new float[OutFeatures];
                MatMulInt8.Quantize(_weight.Span, InFeatures, OutFeatures, Layout, _int8Weight.Span, _int8Scales);
                break;
            case WeightType.Float32Packed:
                _packedWeight = new AlignedArray<float>(_weight.Length);
                MatMulF32Packed.Pack(_weight.Span, InFeatures, OutFeatures, Layout, _packedWeight.Span);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "unknown weight type");
        }
        WeightType = type;
        if (!keepFloat32)
        {
            ReleasedSinceCollection += (long)_weight.Length * sizeof(float);
            _weight = null;
        }
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

    /// <summary>
    /// Runs <paramref name="build"/>; every Linear it constructs on this thread converts to <paramref name="type"/> and
    /// releases its f32 weight as soon as it exists (ConvertWeights(type, keepFloat32: false)), so an inference-only
    /// load never holds the whole f32 model beside the converted one. A weight another Linear or a model field still
    /// references (an untied embedding) stays alive through that reference.
    /// </summary>
    public static T ConvertWhileBuilding<T>(Func<T> build, WeightType type)
    {
        ArgumentNullException.ThrowIfNull(build);
        if (type == WeightType.Float32)
        {
            return build();
        }
        var previous = ConvertOnCreate;
        ConvertOnCreate = type;
        try
        {
            return build();
        }
        finally
        {
            ConvertOnCreate = previous;
        }
    }

    /// <summary>
    /// Called as layers convert while building: once 32 MB of f32 weights have been released, collects them, so a
    /// large model's build never holds much more than the converted model plus one interval of f32 garbage.
    /// </summary>
    private static void CollectReleasedWeights()
    {
        if (ReleasedSinceCollection >= CollectionInterval)
        {
            ReleasedSinceCollection = 0;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        }
    }

    /// <summary>
    /// Copies rows <paramref name="ids"/> of an [OutFeatures, InFeatures] weight into <paramref name="output"/>
    /// [ids, InFeatures]: the input embedding of a tied head. Reads the copy <see cref="Forward"/> uses: a bf16 row
    /// widened exactly, an int8 row as q · scale[row], so a low-precision model embeds with the weights it projects with.
    /// </summary>
    public void LookupRows(ReadOnlySpan<int> ids, Span<float> output)
    {
        if (Layout != WeightLayout.OutputMajor)
        {
            throw new InvalidOperationException(
                $"linear layer [{InFeatures} → {OutFeatures}] stores its weight [in, out]; only an [out, in] weight (a tied head) can be read as embedding rows");
        }
        if (output.Length < ids.Length * InFeatures)
        {
            throw new ArgumentException($"output holds {output.Length} floats; {ids.Length} rows of {InFeatures} need {ids.Length * InFeatures}", nameof(output));
        }
        switch (WeightType)
        {
            case WeightType.BFloat16:
                Embedding.LookupBFloat16(_bf16Weight!.Span, InFeatures, ids, output);
                break;
            case WeightType.Int8:
                Embedding.LookupInt8(_int8Weight!.Span, _int8Scales, InFeatures, ids, output);
                break;
            case WeightType.Float32Packed:
                Embedding.LookupPacked(_packedWeight!.Span, InFeatures, ids, output);
                break;
            default:
                Embedding.Lookup(Weight.Span, InFeatures, ids, output);
                break;
        }
    }

    private InvalidOperationException ReleasedError() => new(
        $"linear layer [{InFeatures} → {OutFeatures}]: its weights were converted to {WeightType.Name()} for inference and the float32 copy " +
        "released; load the model in f32 (WeightType.Float32, --dtype f32) to train, export or re-convert it");

    private void ForwardLowPrecision(ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        ReadOnlySpan<float> bias = Bias is null ? default : Bias.Span;
        if (_packedWeight is not null)
        {
            MatMulF32Packed.Forward(input[..(rows * InFeatures)], _packedWeight.Span, bias, rows, InFeatures, OutFeatures, output[..(rows * OutFeatures)]);
        }
        else if (_bf16Weight is not null)
        {
            MatMulBf16.Forward(input[..(rows * InFeatures)], _bf16Weight.Span, bias, rows, InFeatures, OutFeatures, output[..(rows * OutFeatures)]);
        }
        else
        {
            MatMulInt8.Forward(input[..(rows * InFeatures)], _int8Weight!.Span, _int8Scales, bias, rows, InFeatures, OutFeatures,
                output[..(rows * OutFeatures)]);
        }
    }
}
