using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Sharpformer.Kernels;

/// <summary>The vector widths a kernel can run with; <see cref="SimdPaths"/> picks one.</summary>
internal enum SimdPath
{
    Scalar,
    Vector128,
    Vector256,
    Vector512,
}

/// <summary>
/// The one seam that chooses a SIMD path: the widest accelerated one, or the one named by the environment variable
/// SHARPFORMER_SIMD=scalar|128|256|512 (to compare paths or to test a narrower one on a wide machine).
/// </summary>
internal static class SimdPaths
{
    public const string EnvironmentVariable = "SHARPFORMER_SIMD";

    private static SimdPath? _default;

    /// <summary>Every path this machine runs in hardware, narrowest first (scalar is always there).</summary>
    public static IReadOnlyList<SimdPath> Available { get; } = FindAvailable();

    public static SimdPath Best => Available[^1];

    /// <summary>The path <see cref="MatMul.Forward"/> uses: SHARPFORMER_SIMD when set, else <see cref="Best"/>.</summary>
    public static SimdPath Default => _default ??= Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    public static SimdPath Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return Best;
        }
        SimdPath path = value.Trim().ToLowerInvariant() switch
        {
            "scalar" => SimdPath.Scalar,
            "128" => SimdPath.Vector128,
            "256" => SimdPath.Vector256,
            "512" => SimdPath.Vector512,
            _ => throw new InvalidOperationException(
                $"{EnvironmentVariable}='{value}' is not a SIMD path; use scalar, 128, 256 or 512"),
        };
        if (!Available.Contains(path))
        {
            throw new InvalidOperationException(
                $"{EnvironmentVariable}='{value}' asks for {path}, which this machine does not accelerate; available: {string.Join(", ", Available)}");
        }
        return path;
    }

    private static SimdPath[] FindAvailable()
    {
        var paths = new List<SimdPath> { SimdPath.Scalar };
        if (Vector128.IsHardwareAccelerated)
        {
            paths.Add(SimdPath.Vector128);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            paths.Add(SimdPath.Vector256);
        }
        if (Vector512.IsHardwareAccelerated)
        {
            paths.Add(SimdPath.Vector512);
        }
        return [.. paths];
    }
}

/// <summary>
/// Operations on a float vector type <typeparamref name="TVector"/> of a fixed width. Kernels are written once,
/// generic over an ops struct and its vector type (MatMulKernel&lt;Vector512Ops, Vector512&lt;float&gt;&gt;); the JIT
/// compiles one specialised copy per width, with no calls and the vectors in registers. (A struct wrapping the vector
/// instead compiled to extra register moves around every FMA.)
/// </summary>
internal unsafe interface IVectorOps<TVector> where TVector : unmanaged
{
    static abstract int Count { get; }

    static abstract TVector Create(float value);

    static abstract TVector Load(float* source);

    static abstract void Store(TVector value, float* destination);

    /// <summary>a * b + c, fused where the hardware can.</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);

    static abstract TVector Add(TVector a, TVector b);

    static abstract float Sum(TVector value);

    /// <summary>Lanes first ≤ i &lt; end from <paramref name="value"/>, the others from <paramref name="otherwise"/>.</summary>
    static abstract TVector Blend(TVector value, TVector otherwise, int first, int end);
}

internal readonly unsafe struct Vector512Ops : IVectorOps<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Create(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* source) => Vector512.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, float* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> value) => Vector512.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Blend(Vector512<float> value, Vector512<float> otherwise, int first, int end)
    {
        var lanes = Vector512<int>.Indices;
        var keep = Vector512.GreaterThanOrEqual(lanes, Vector512.Create(first)) & Vector512.LessThan(lanes, Vector512.Create(end));
        return Vector512.ConditionalSelect(keep.AsSingle(), value, otherwise);
    }
}

internal readonly unsafe struct Vector256Ops : IVectorOps<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Create(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* source) => Vector256.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, float* destination) => value.Store(destination);

    // AVX2 without FMA exists (rarely); Vector256.FusedMultiplyAdd would then be emulated one lane at a time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Vector256.FusedMultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Blend(Vector256<float> value, Vector256<float> otherwise, int first, int end)
    {
        var lanes = Vector256<int>.Indices;
        var keep = Vector256.GreaterThanOrEqual(lanes, Vector256.Create(first)) & Vector256.LessThan(lanes, Vector256.Create(end));
        return Vector256.ConditionalSelect(keep.AsSingle(), value, otherwise);
    }
}

internal readonly unsafe struct Vector128Ops : IVectorOps<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Create(float value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(float* source) => Vector128.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, float* destination) => value.Store(destination);

    // NEON and x64 FMA3 fuse; plain SSE would emulate the fused form lane by lane, so it multiplies then adds.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Fma.IsSupported || AdvSimd.IsSupported ? Vector128.FusedMultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128<float> value) => Vector128.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Blend(Vector128<float> value, Vector128<float> otherwise, int first, int end)
    {
        var lanes = Vector128<int>.Indices;
        var keep = Vector128.GreaterThanOrEqual(lanes, Vector128.Create(first)) & Vector128.LessThan(lanes, Vector128.Create(end));
        return Vector128.ConditionalSelect(keep.AsSingle(), value, otherwise);
    }
}

/// <summary>One float: the portable path, and the narrowest width the generic kernels are tested with.</summary>
internal readonly unsafe struct ScalarOps : IVectorOps<float>
{
    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Create(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(float* source) => *source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, float* destination) => *destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float a, float b, float c) => a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float a, float b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Blend(float value, float otherwise, int first, int end) => first <= 0 && end > 0 ? value : otherwise;
}
