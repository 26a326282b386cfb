using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpformer.Kernels;

/// <summary>One low-precision matmul call: pointers into the caller's pinned spans and the shape.</summary>
internal unsafe struct LowPrecisionJob
{
    public float* Input;   // [rows, inFeatures]
    public byte* Weight;   // [outFeatures, inFeatures] in the format's elements
    public float* Scales;  // [outFeatures], or null when the format needs none
    public float* Bias;    // [outFeatures], or null
    public float* Output;  // [rows, outFeatures]
    public int Rows, InFeatures, OutFeatures, BlockColumns;
}

/// <summary>How a stored weight element becomes a float: 16 at a time (AVX-512) or one (tails, scalar machines).</summary>
internal unsafe interface IWeightFormat
{
    static abstract int ElementBytes { get; }

    static abstract Vector512<float> Load16(byte* row, int k);

    static abstract float Load1(byte* row, int k);
}

internal readonly unsafe struct BFloat16Format : IWeightFormat
{
    public static int ElementBytes => 2;

    // bf16 → f32 is exact: zero-extend each 16-bit value and shift it into the top half.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Avx.LoadVector256((ushort*)row + k)), 16).AsSingle();

    public static float Load1(byte* row, int k) => BitConverter.Int32BitsToSingle(((ushort*)row)[k] << 16);
}

internal readonly unsafe struct Int8Format : IWeightFormat
{
    public static int ElementBytes => 1;

    // Sign-extend 16 bytes to int32 and convert; the per-channel scale is applied once per dot product.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128((sbyte*)row + k)));

    public static float Load1(byte* row, int k) => ((sbyte*)row)[k];
}

/// <summary>
/// Low-precision weights stored [outFeatures, inFeatures] (both layouts are packed this way at load), multiplied in
/// float32. Decode is bound by reading the weight, so like <see cref="MatMulKernel{TOps, TVector}"/>'s streaming path
/// each task takes a range of weight rows (outputs) and computes dot products of up to four input rows with four
/// weight rows at a time, widening each weight vector once into registers; up to <see cref="StreamMaxRows"/> rows run
/// four at a time. Beyond that (prefill) the work is compute-bound, so blocks of weight rows are widened to float32
/// once per call (scale folded in) and multiplied by the packed f32 GEMM of <see cref="MatMul"/>.
/// Without AVX-512 the streaming loops run on scalars.
/// </summary>
internal static unsafe class LowPrecisionKernel<TFormat> where TFormat : struct, IWeightFormat
{
    private const int C = 16;

    /// <summary>Up to this many rows the weight streams (once per four rows); more widen it for the f32 GEMM.</summary>
    public const int StreamMaxRows = 16;

    // Floats widened at a time (16 MiB): a GPT-2 MLP weight in one block, an lm_head in about six.
    private const int WidenBlockLength = 1 << 22;

    public static void Run(LowPrecisionJob* job)
    {
        if (job->Rows > StreamMaxRows)
        {
            RunWidened(job);
            return;
        }
        int threads = (long)job->Rows * job->InFeatures * job->OutFeatures < MatMulKernel<ScalarOps, float>.MinParallelWork
            ? 1 : KernelThreads.Count;
        // Four tasks per thread for a big weight (an lm_head), so a thread that another process slows holds up less.
        int tasks = (long)job->InFeatures * job->OutFeatures >= 1 << 22 ? 4 * threads : threads;
        int columns = (job->OutFeatures + tasks - 1) / tasks;
        columns = (columns + 15) / 16 * 16;
        int blocks = (job->OutFeatures + columns - 1) / columns;
        for (int m0 = 0; m0 < job->Rows; m0 += 4)
        {
            LowPrecisionJob part = *job;
            part.Rows = Math.Min(4, job->Rows - m0);
            part.Input = job->Input + (nint)m0 * job->InFeatures;
            part.Output = job->Output + (nint)m0 * job->OutFeatures;
            part.BlockColumns = columns;
            KernelThreads.Run(&Task, &part, blocks);
        }
    }

    /// <summary>Widens blocks of weight rows to f32 [rows, in] (scale folded in) and runs the f32 GEMM on each.</summary>
    private static void RunWidened(LowPrecisionJob* job)
    {
        int M = job->Rows, K = job->InFeatures, N = job->OutFeatures;
        int blockRows = Math.Min(N, Math.Max(16, WidenBlockLength / Math.Max(1, K) / 16 * 16));
        float* widened = LowPrecisionBuffers.Widened(blockRows * K);
        float* blockOutput = blockRows < N ? LowPrecisionBuffers.BlockOutput(M * blockRows) : job->Output;
        for (int n0 = 0; n0 < N; n0 += blockRows)
        {
            int count = Math.Min(blockRows, N - n0);
            var widen = new WidenJob { Source = job, Destination = widened, FirstRow = n0, RowCount = count, RowsPerTask = 64 };
            KernelThreads.Run(&WidenTask, &widen, (count + widen.RowsPerTask - 1) / widen.RowsPerTask);
            var bias = job->Bias == null ? ReadOnlySpan<float>.Empty : new ReadOnlySpan<float>(job->Bias + n0, count);
            MatMul.Forward(new ReadOnlySpan<float>(job->Input, M * K), new ReadOnlySpan<float>(widened, count * K), bias,
                M, K, count, WeightLayout.OutputMajor, new Span<float>(blockOutput, M * count));
            if (blockOutput != job->Output)
            {
                for (int m = 0; m < M; m++)
                {
                    new ReadOnlySpan<float>(blockOutput + (nint)m * count, count).CopyTo(new Span<float>(job->Output + (nint)m * N + n0, count));
                }
            }
        }
    }

    private struct WidenJob
    {
        public LowPrecisionJob* Source;
        public float* Destination;
        public int FirstRow, RowCount, RowsPerTask;
    }

    private static void WidenTask(void* context, int task)
    {
        var widen = (WidenJob*)context;
        var job = widen->Source;
        int K = job->InFeatures;
        nint rowBytes = (nint)K * TFormat.ElementBytes;
        int r0 = task * widen->RowsPerTask, r1 = Math.Min(widen->RowCount, r0 + widen->RowsPerTask);
        int vectorEnd = Avx512F.IsSupported ? K / C * C : 0;
        for (int r = r0; r < r1; r++)
        {
            int n = widen->FirstRow + r;
            byte* w = job->Weight + n * rowBytes;
            float* y = widen->Destination + (nint)r * K;
            float scale = job->Scales == null ? 1f : job->Scales[n];
            var scales = Vector512.Create(scale);
            int k = 0;
            for (; k < vectorEnd; k += C)
            {
                (TFormat.Load16(w, k) * scales).Store(y + k);
            }
            for (; k < K; k++)
            {
                y[k] = TFormat.Load1(w, k) * scale;
            }
        }
    }

    private static void Task(void* context, int task)
    {
        var job = (LowPrecisionJob*)context;
        int n0 = task * job->BlockColumns;
        int n1 = Math.Min(job->OutFeatures, n0 + job->BlockColumns);
        switch (job->Rows)
        {
            case 1:
                Stream<Rows1>(job, n0, n1);
                break;
            case 2:
                Stream<Rows2>(job, n0, n1);
                break;
            case 3:
                Stream<Rows3>(job, n0, n1);
                break;
            default:
                Stream<Rows4>(job, n0, n1);
                break;
        }
    }

    /// <summary>y[:, n0:n1] = scale ⊙ (x · w[n0:n1, :]ᵀ) + b for TRows rows, in TRows × 4 vector accumulators.</summary>
    private static void Stream<TRows>(LowPrecisionJob* job, int n0, int n1) where TRows : struct, IRowCount
    {
        int M = TRows.Value, K = job->InFeatures;
        nint rowBytes = (nint)K * TFormat.ElementBytes;
        float* x = job->Input;
        float* x0 = x, x1 = M > 1 ? x + K : x, x2 = M > 2 ? x + 2 * K : x, x3 = M > 3 ? x + 3 * K : x;
        int vectorEnd = Avx512F.IsSupported ? K / C * C : 0;
        int n = n0;
        for (; n + 4 <= n1; n += 4)
        {
            byte* w0 = job->Weight + n * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
            Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
            Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
            Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
            int k = 0;
            if (M == 1)
            {
                // One row leaves the other rows' accumulators free: a second set takes every other k-step, so twice
                // as many FMA chains are in flight (one per 4-cycle latency would bound int8 near 16 bytes a cycle).
                for (; k + 2 * C <= vectorEnd; k += 2 * C)
                {
                    Vector512<float> xk = Vector512.Load(x0 + k), xn = Vector512.Load(x0 + k + C);
                    s00 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(w0, k), s00);
                    s01 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(w1, k), s01);
                    s02 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(w2, k), s02);
                    s03 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(w3, k), s03);
                    s10 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(w0, k + C), s10);
                    s11 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(w1, k + C), s11);
                    s12 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(w2, k + C), s12);
                    s13 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(w3, k + C), s13);
                }
                s00 += s10;
                s01 += s11;
                s02 += s12;
                s03 += s13;
            }
            for (; k < vectorEnd; k += C)
            {
                Vector512<float> v0 = TFormat.Load16(w0, k), v1 = TFormat.Load16(w1, k);
                Vector512<float> v2 = TFormat.Load16(w2, k), v3 = TFormat.Load16(w3, k);
                Vector512<float> xk = Vector512.Load(x0 + k);
                s00 = Avx512F.FusedMultiplyAdd(xk, v0, s00);
                s01 = Avx512F.FusedMultiplyAdd(xk, v1, s01);
                s02 = Avx512F.FusedMultiplyAdd(xk, v2, s02);
                s03 = Avx512F.FusedMultiplyAdd(xk, v3, s03);
                if (M > 1)
                {
                    xk = Vector512.Load(x1 + k);
                    s10 = Avx512F.FusedMultiplyAdd(xk, v0, s10);
                    s11 = Avx512F.FusedMultiplyAdd(xk, v1, s11);
                    s12 = Avx512F.FusedMultiplyAdd(xk, v2, s12);
                    s13 = Avx512F.FusedMultiplyAdd(xk, v3, s13);
                }
                if (M > 2)
                {
                    xk = Vector512.Load(x2 + k);
                    s20 = Avx512F.FusedMultiplyAdd(xk, v0, s20);
                    s21 = Avx512F.FusedMultiplyAdd(xk, v1, s21);
                    s22 = Avx512F.FusedMultiplyAdd(xk, v2, s22);
                    s23 = Avx512F.FusedMultiplyAdd(xk, v3, s23);
                }
                if (M > 3)
                {
                    xk = Vector512.Load(x3 + k);
                    s30 = Avx512F.FusedMultiplyAdd(xk, v0, s30);
                    s31 = Avx512F.FusedMultiplyAdd(xk, v1, s31);
                    s32 = Avx512F.FusedMultiplyAdd(xk, v2, s32);
                    s33 = Avx512F.FusedMultiplyAdd(xk, v3, s33);
                }
            }
            Finish(job, 0, n, vectorEnd, s00, s01, s02, s03);
            if (M > 1)
            {
                Finish(job, 1, n, vectorEnd, s10, s11, s12, s13);
            }
            if (M > 2)
            {
                Finish(job, 2, n, vectorEnd, s20, s21, s22, s23);
            }
            if (M > 3)
            {
                Finish(job, 3, n, vectorEnd, s30, s31, s32, s33);
            }
        }
        for (; n < n1; n++)
        {
            byte* w0 = job->Weight + n * rowBytes;
            for (int m = 0; m < M; m++)
            {
                float* xm = x + (nint)m * K;
                Vector512<float> s0 = default;
                for (int k = 0; k < vectorEnd; k += C)
                {
                    s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(xm + k), TFormat.Load16(w0, k), s0);
                }
                Store(job, m, n, Dot(xm, w0, vectorEnd, K, s0));
            }
        }
    }

    /// <summary>Reduces row m's four dot products with weight rows n..n+3, adds the k tails, stores them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(LowPrecisionJob* job, int m, int n, int k0,
        Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3)
    {
        int K = job->InFeatures;
        if (k0 == K && k0 > 0)
        {
            // No k tail (GPT-2's widths): reduce the four vectors together, then scale, bias and store four outputs
            // at once; reducing each alone costs as much as the loop over a 768-wide row of int8.
            Vector256<float> a0 = s0.GetLower() + s0.GetUpper(), a1 = s1.GetLower() + s1.GetUpper();
            Vector256<float> a2 = s2.GetLower() + s2.GetUpper(), a3 = s3.GetLower() + s3.GetUpper();
            Vector128<float> b0 = a0.GetLower() + a0.GetUpper(), b1 = a1.GetLower() + a1.GetUpper();
            Vector128<float> b2 = a2.GetLower() + a2.GetUpper(), b3 = a3.GetLower() + a3.GetUpper();
            Vector128<float> sums = Sse3.HorizontalAdd(Sse3.HorizontalAdd(b0, b1), Sse3.HorizontalAdd(b2, b3));
            if (job->Scales != null)
            {
                sums *= Vector128.Load(job->Scales + n);
            }
            if (job->Bias != null)
            {
                sums += Vector128.Load(job->Bias + n);
            }
            sums.Store(job->Output + (nint)m * job->OutFeatures + n);
            return;
        }
        nint rowBytes = (nint)K * TFormat.ElementBytes;
        float* xm = job->Input + (nint)m * K;
        byte* w0 = job->Weight + n * rowBytes;
        Store(job, m, n, Dot(xm, w0, k0, K, s0));
        Store(job, m, n + 1, Dot(xm, w0 + rowBytes, k0, K, s1));
        Store(job, m, n + 2, Dot(xm, w0 + 2 * rowBytes, k0, K, s2));
        Store(job, m, n + 3, Dot(xm, w0 + 3 * rowBytes, k0, K, s3));
    }

    private static float Dot(float* x, byte* w, int k0, int k1, Vector512<float> partial)
    {
        float sum = k0 > 0 ? Vector512.Sum(partial) : 0f;
        for (int k = k0; k < k1; k++)
        {
            sum += x[k] * TFormat.Load1(w, k);
        }
        return sum;
    }

    private static void Store(LowPrecisionJob* job, int m, int n, float dot)
    {
        float value = job->Scales == null ? dot : dot * job->Scales[n];
        job->Output[(nint)m * job->OutFeatures + n] = job->Bias == null ? value : value + job->Bias[n];
    }
}

/// <summary>Scratch for widened weight blocks and their outputs, owned by the calling thread.</summary>
internal static unsafe class LowPrecisionBuffers
{
    [ThreadStatic]
    private static float[]? _widened;

    [ThreadStatic]
    private static float[]? _blockOutput;

    public static float* Widened(int length) => Get(ref _widened, length);

    public static float* BlockOutput(int length) => Get(ref _blockOutput, length);

    private static float* Get(ref float[]? array, int length)
    {
        if (array == null || array.Length < length)
        {
            array = GC.AllocateUninitializedArray<float>(length, pinned: true);
        }
        return (float*)Unsafe.AsPointer(ref array[0]);
    }
}

/// <summary>Shape checks and the [outFeatures, inFeatures] packing shared by the bf16 and int8 entry points.</summary>
internal static class LowPrecisionShapes
{
    public static void Check(int inputLength, int weightLength, int scaleLength, int biasLength, int outputLength,
        int rows, int inFeatures, int outFeatures, bool scaled)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        if (inputLength < (long)rows * inFeatures)
        {
            throw new ArgumentException($"input holds {inputLength} floats, [{rows}, {inFeatures}] needs {(long)rows * inFeatures}");
        }
        if (weightLength != (long)inFeatures * outFeatures)
        {
            throw new ArgumentException($"weight holds {weightLength} values, [{outFeatures}, {inFeatures}] needs {(long)inFeatures * outFeatures}");
        }
        if (scaled && scaleLength != outFeatures)
        {
            throw new ArgumentException($"scales hold {scaleLength} floats, expected one per output feature ({outFeatures})");
        }
        if (biasLength != 0 && biasLength != outFeatures)
        {
            throw new ArgumentException($"bias holds {biasLength} floats, expected {outFeatures}");
        }
        if (outputLength < (long)rows * outFeatures)
        {
            throw new ArgumentException($"output holds {outputLength} floats, [{rows}, {outFeatures}] needs {(long)rows * outFeatures}");
        }
    }

    /// <summary>Row n of the weight as [outFeatures, inFeatures] sees it, whichever way it is stored.</summary>
    public static void OutputRow(ReadOnlySpan<float> weight, int inFeatures, int outFeatures, WeightLayout layout, int n, Span<float> row)
    {
        if (layout == WeightLayout.OutputMajor)
        {
            weight.Slice(n * inFeatures, inFeatures).CopyTo(row);
            return;
        }
        for (int k = 0; k < inFeatures; k++)
        {
            row[k] = weight[k * outFeatures + n];
        }
    }

    public static void CheckWeight(ReadOnlySpan<float> weight, int inFeatures, int outFeatures, WeightLayout layout, int packedLength)
    {
        if (layout is not (WeightLayout.InputMajor or WeightLayout.OutputMajor))
        {
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "unknown weight layout");
        }
        if (weight.Length != (long)inFeatures * outFeatures || packedLength != weight.Length)
        {
            throw new ArgumentException(
                $"weight holds {weight.Length} floats and the packed buffer {packedLength}; [{inFeatures}, {outFeatures}] needs {(long)inFeatures * outFeatures} each");
        }
    }
}
