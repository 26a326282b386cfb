namespace Sharpformer.Kernels;

/// <summary>
/// How a linear layer stores its weight for inference. A bf16/int8 model load keeps only that copy (tied embeddings read
/// it too) and runs inference only; see <see cref="Layers.Linear.ConvertWeights"/> to keep the f32 tensor beside it.
/// </summary>
public enum WeightType
{
    /// <summary>float32, as loaded: the reference.</summary>
    Float32,

    /// <summary>bfloat16 (the top half of a float32), accumulated in float32: half the bytes per token.</summary>
    BFloat16,

    /// <summary>int8 with one float32 scale per output channel (symmetric, weight-only), accumulated in float32.</summary>
    Int8,

    /// <summary>
    /// float32, the same values, copied at load into the decode-friendly order of <see cref="LowPrecisionLayout"/>
    /// ([out, in], four rows interleaved) instead of mapped as stored: GPT-2 stores its weights [in, out], which a decode
    /// step can only stream as four short rows at a time (about 0.8 of the read bandwidth); this order streams as one.
    /// </summary>
    Float32Packed,
}

/// <summary>The names the CLI and the load options use for <see cref="WeightType"/>: f32, f32-packed, bf16, int8.</summary>
public static class WeightTypes
{
    public static IReadOnlyList<string> Names { get; } = ["f32", "f32-packed", "bf16", "int8"];

    public static WeightType Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "f32" or "float32" => WeightType.Float32,
        "bf16" or "bfloat16" => WeightType.BFloat16,
        "int8" or "q8" => WeightType.Int8,
        "f32-packed" or "f32p" => WeightType.Float32Packed,
        _ => throw new ArgumentException($"unknown dtype '{name}'; use one of {string.Join(", ", Names)}", nameof(name)),
    };

    public static string Name(this WeightType type) => type switch
    {
        WeightType.Float32 => "f32",
        WeightType.BFloat16 => "bf16",
        WeightType.Int8 => "int8",
        WeightType.Float32Packed => "f32-packed",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown weight type"),
    };
}
