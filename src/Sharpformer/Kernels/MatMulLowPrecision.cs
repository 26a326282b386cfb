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
    public int Rows, InFeatures, OutFeatures, BlockColumns, BigTasks, SmallColumns;
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

internal readonly unsafe struct Float32Format : IWeightFormat
{
    public static int ElementBytes => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) => Vector512.Load((float*)row + k);

    public static float Load1(byte* row, int k) => ((float*)row)[k];
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
        int columns = (job->OutFeatures + threads - 1) / threads;
        columns = (columns + 15) / 16 * 16;
        int blocks = (job->OutFeatures + columns - 1) / columns;
        int bigTasks = blocks, smallColumns = 0;
        if (threads > 1 && job->OutFeatures >= 64 * threads)
        {
            // Guided: one block per thread of 80% of the columns, then blocks of about 128 KiB of weights for whoever
            // is free first, so both threads finish within a few microseconds, however another process slows one of
            // them. Equal halves left the caller waiting about 10 µs a call for the slower stream, half a millisecond a
            // token at GPT-2's 49 calls; bf16/int8 decode ran 4–8% faster this way, and the small blocks another 1–2%.
            columns = (int)(0.8 * job->OutFeatures / threads) / 16 * 16;
            bigTasks = threads;
            int rest = job->OutFeatures - bigTasks * columns;
            smallColumns = Math.Max(16, (128 << 10) / (job->InFeatures * TFormat.ElementBytes) / 16 * 16);
            blocks = bigTasks + (rest + smallColumns - 1) / smallColumns;
        }
        for (int m0 = 0; m0 < job->Rows; m0 += 4)
        {
            LowPrecisionJob part = *job;
            part.Rows = Math.Min(4, job->Rows - m0);
            part.Input = job->Input + (nint)m0 * job->InFeatures;
            part.Output = job->Output + (nint)m0 * job->OutFeatures;
            part.BlockColumns = columns;
            part.BigTasks = bigTasks;
            part.SmallColumns = smallColumns;
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
        int r0 = task * widen->RowsPerTask, r1 = Math.Min(widen->RowCount, r0 + widen->RowsPerTask);
        for (int r = r0; r < r1; r++)
        {
            int n = widen->FirstRow + r;
            float* y = widen->Destination + (nint)r * K;
            float scale = job->Scales == null ? 1f : job->Scales[n];
            // Blocks of 32 then the tail when the row is in a whole group of four, else one plain run.
            if (n >= job->OutFeatures / LowPrecisionLayout.GroupRows * LowPrecisionLayout.GroupRows)
            {
                Widen(job->Weight + (nint)n * K * TFormat.ElementBytes, y, K, scale);
                continue;
            }
            int blocked = K / LowPrecisionLayout.BlockK * LowPrecisionLayout.BlockK;
            for (int k = 0; k < blocked; k += LowPrecisionLayout.BlockK)
            {
                Widen(job->Weight + (nint)LowPrecisionLayout.Index(n, k, K, job->OutFeatures) * TFormat.ElementBytes, y + k, LowPrecisionLayout.BlockK, scale);
            }
            if (blocked < K)
            {
                Widen(job->Weight + (nint)LowPrecisionLayout.Index(n, blocked, K, job->OutFeatures) * TFormat.ElementBytes, y + blocked, K - blocked, scale);
            }
        }
    }

    private static void Widen(byte* w, float* y, int length, float scale)
    {
        int vectorEnd = Avx512F.IsSupported ? length / C * C : 0;
        var scales = Vector512.Create(scale);
        int k = 0;
        for (; k < vectorEnd; k += C)
        {
            (TFormat.Load16(w, k) * scales).Store(y + k);
        }
        for (; k < length; k++)
        {
            y[k] = TFormat.Load1(w, k) * scale;
        }
    }

    private static void Task(void* context, int task)
    {
        var job = (LowPrecisionJob*)context;
        // Tasks below BigTasks are BlockColumns wide, the rest SmallColumns.
        int n0 = task < job->BigTasks ? task * job->BlockColumns
            : job->BigTasks * job->BlockColumns + (task - job->BigTasks) * job->SmallColumns;
        int n1 = Math.Min(job->OutFeatures, n0 + (task < job->BigTasks ? job->BlockColumns : job->SmallColumns));
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

    /// <summary>
    /// y[:, n0:n1] = scale ⊙ (x · w[n0:n1, :]ᵀ) + b for TRows rows. Whole groups of four weight rows are read as the
    /// one contiguous stream <see cref="LowPrecisionLayout"/> makes of them, into TRows × 4 vector accumulators; the
    /// rows of a last, partial group are plain rows.
    /// </summary>
    private static void Stream<TRows>(LowPrecisionJob* job, int n0, int n1) where TRows : struct, IRowCount
    {
        const int G = LowPrecisionLayout.GroupRows, B = LowPrecisionLayout.BlockK;
        int M = TRows.Value, K = job->InFeatures, elementBytes = TFormat.ElementBytes;
        float* x = job->Input;
        float* x0 = x, x1 = M > 1 ? x + K : x, x2 = M > 2 ? x + 2 * K : x, x3 = M > 3 ? x + 3 * K : x;
        int blocks = Avx512F.IsSupported ? K / B : 0;
        int fullGroupRows = job->OutFeatures / G * G;
        int n = n0;
        for (; n + G <= Math.Min(n1, fullGroupRows); n += G)
        {
            byte* p = job->Weight + (nint)n * K * elementBytes;
            Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
            Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
            Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
            if (M == 1)
            {
                // One row leaves the other rows' accumulators free: the second half of each block takes its own set, so
                // twice as many FMA chains are in flight.
                for (int b = 0; b < blocks; b++, p += G * B * elementBytes)
                {
                    Vector512<float> xk = Vector512.Load(x0 + b * B), xn = Vector512.Load(x0 + b * B + C);
                    s00 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(p, 0), s00);
                    s10 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(p, C), s10);
                    s01 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(p, B), s01);
                    s11 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(p, B + C), s11);
                    s02 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(p, 2 * B), s02);
                    s12 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(p, 2 * B + C), s12);
                    s03 = Avx512F.FusedMultiplyAdd(xk, TFormat.Load16(p, 3 * B), s03);
                    s13 = Avx512F.FusedMultiplyAdd(xn, TFormat.Load16(p, 3 * B + C), s13);
                }
                s00 += s10;
                s01 += s11;
                s02 += s12;
                s03 += s13;
            }
            else
            {
                for (int b = 0; b < blocks; b++, p += G * B * elementBytes)
                {
                    for (int half = 0; half < B; half += C)
                    {
                        // Each weight vector is widened once and used for every input row.
                        Vector512<float> v0 = TFormat.Load16(p, half), v1 = TFormat.Load16(p, B + half);
                        Vector512<float> v2 = TFormat.Load16(p, 2 * B + half), v3 = TFormat.Load16(p, 3 * B + half);
                        int k = b * B + half;
                        Vector512<float> xk = Vector512.Load(x0 + k);
                        s00 = Avx512F.FusedMultiplyAdd(xk, v0, s00);
                        s01 = Avx512F.FusedMultiplyAdd(xk, v1, s01);
                        s02 = Avx512F.FusedMultiplyAdd(xk, v2, s02);
                        s03 = Avx512F.FusedMultiplyAdd(xk, v3, s03);
                        xk = Vector512.Load(x1 + k);
                        s10 = Avx512F.FusedMultiplyAdd(xk, v0, s10);
                        s11 = Avx512F.FusedMultiplyAdd(xk, v1, s11);
                        s12 = Avx512F.FusedMultiplyAdd(xk, v2, s12);
                        s13 = Avx512F.FusedMultiplyAdd(xk, v3, s13);
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
                }
            }
            int blocked = blocks * B;
            Finish(job, 0, n, blocked, s00, s01, s02, s03);
            if (M > 1)
            {
                Finish(job, 1, n, blocked, s10, s11, s12, s13);
            }
            if (M > 2)
            {
                Finish(job, 2, n, blocked, s20, s21, s22, s23);
            }
            if (M > 3)
            {
                Finish(job, 3, n, blocked, s30, s31, s32, s33);
            }
        }
        for (; n < n1; n++)
        {
            // A last, partial group: its rows are stored plain.
            byte* w0 = job->Weight + (nint)n * K * elementBytes;
            int vectorEnd = Avx512F.IsSupported ? K / C * C : 0;
            for (int m = 0; m < M; m++)
            {
                float* xm = x + (nint)m * K;
                Vector512<float> s0 = default;
                for (int k = 0; k < vectorEnd; k += C)
                {
                    s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(xm + k), TFormat.Load16(w0, k), s0);
                }
                float sum = vectorEnd > 0 ? Vector512.Sum(s0) : 0f;
                for (int k = vectorEnd; k < K; k++)
                {
                    sum += xm[k] * TFormat.Load1(w0, k);
                }
                Store(job, m, n, sum);
            }
        }
    }

    /// <summary>
    /// Reduces row m's four dot products with the group of weight rows n..n+3 over its first <paramref name="blocked"/>
    /// k, adds the k tails (stored after the group's blocks, row by row), stores them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(LowPrecisionJob* job, int m, int n, int blocked,
        Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3)
    {
        int K = job->InFeatures;
        // Reduce the four vectors together, then scale, bias and store four outputs at once; reducing each alone costs
        // as much as the loop over a 768-wide row of int8.
        Vector256<float> a0 = s0.GetLower() + s0.GetUpper(), a1 = s1.GetLower() + s1.GetUpper();
        Vector256<float> a2 = s2.GetLower() + s2.GetUpper(), a3 = s3.GetLower() + s3.GetUpper();
        Vector128<float> b0 = a0.GetLower() + a0.GetUpper(), b1 = a1.GetLower() + a1.GetUpper();
        Vector128<float> b2 = a2.GetLower() + a2.GetUpper(), b3 = a3.GetLower() + a3.GetUpper();
        Vector128<float> sums = Sse3.IsSupported
            ? Sse3.HorizontalAdd(Sse3.HorizontalAdd(b0, b1), Sse3.HorizontalAdd(b2, b3))
            : Vector128.Create(Vector128.Sum(b0), Vector128.Sum(b1), Vector128.Sum(b2), Vector128.Sum(b3));
        if (blocked < K)
        {
            int tail = K - blocked;
            float* xm = job->Input + (nint)m * K + blocked;
            byte* tails = job->Weight + ((nint)n * K + (nint)LowPrecisionLayout.GroupRows * blocked) * TFormat.ElementBytes;
            sums += Vector128.Create(TailDot(xm, tails, tail, 0), TailDot(xm, tails, tail, 1),
                TailDot(xm, tails, tail, 2), TailDot(xm, tails, tail, 3));
        }
        if (job->Scales != null)
        {
            sums *= Vector128.Load(job->Scales + n);
        }
        if (job->Bias != null)
        {
            sums += Vector128.Load(job->Bias + n);
        }
        sums.Store(job->Output + (nint)m * job->OutFeatures + n);
    }

    private static float TailDot(float* x, byte* tails, int tail, int row)
    {
        byte* w = tails + (nint)row * tail * TFormat.ElementBytes;
        float sum = 0f;
        for (int j = 0; j < tail; j++)
        {
            sum += x[j] * TFormat.Load1(w, j);
        }
        return sum;
    }

    private static void Store(LowPrecisionJob* job, int m, int n, float dot)
    {
        float value = job->Scales == null ? dot : dot * job->Scales[n];
        job->Output[(nint)m * job->OutFeatures + n] = job->Bias == null ? value : value + job->Bias[n];
    }
}

/// <summary>
/// Where packed low-precision weights keep element (n, k) of [outFeatures, inFeatures]. Decode streams the weight once,
/// four output rows at a time; read as four separate rows, a GPT-2 row is 768 to 3,072 bytes, too short for the
/// hardware prefetcher to run ahead, and the kernel reached half the bandwidth. So each group of four rows is stored
/// interleaved in blocks of 32 k (row 0's k 0..31, row 1's, row 2's, row 3's, then k 32..63, …), with the k tail past
/// the last whole block after them row by row: the kernel reads one contiguous stream (≈ 0.9 of the read ceiling, as
/// llama.cpp's repacked formats). Rows of a last, partial group are stored plain. The buffer keeps the length in × out.
/// </summary>
public static class LowPrecisionLayout
{
    /// <summary>Output rows interleaved together.</summary>
    public const int GroupRows = 4;

    /// <summary>k values of one row stored together.</summary>
    public const int BlockK = 32;

    /// <summary>A run of a row's elements: k values [K, K + Length) stored from element <see cref="Offset"/> on.</summary>
    public readonly record struct Segment(long Offset, int K, int Length);

    /// <summary>The packed position of element (n, k).</summary>
    public static long Index(int n, int k, int inFeatures, int outFeatures)
    {
        long groupStart = (long)(n - n % GroupRows) * inFeatures;
        if (n >= outFeatures / GroupRows * GroupRows)
        {
            return (long)n * inFeatures + k;
        }
        int r = n % GroupRows, blocked = inFeatures / BlockK * BlockK;
        if (k < blocked)
        {
            return groupStart + ((long)(k / BlockK) * GroupRows + r) * BlockK + k % BlockK;
        }
        int tail = inFeatures - blocked;
        return groupStart + (long)GroupRows * blocked + (long)r * tail + (k - blocked);
    }

    /// <summary>Row n's runs, in k order.</summary>
    public static IEnumerable<Segment> Segments(int n, int inFeatures, int outFeatures)
    {
        if (n >= outFeatures / GroupRows * GroupRows)
        {
            yield return new Segment((long)n * inFeatures, 0, inFeatures);
            yield break;
        }
        int blocked = inFeatures / BlockK * BlockK;
        for (int k = 0; k < blocked; k += BlockK)
        {
            yield return new Segment(Index(n, k, inFeatures, outFeatures), k, BlockK);
        }
        if (blocked < inFeatures)
        {
            yield return new Segment(Index(n, blocked, inFeatures, outFeatures), blocked, inFeatures - blocked);
        }
    }

    /// <summary>Writes row n (its inFeatures values, in k order) into the packed buffer.</summary>
    public static void ScatterRow<T>(ReadOnlySpan<T> row, Span<T> packed, int n, int inFeatures, int outFeatures)
    {
        foreach (var segment in Segments(n, inFeatures, outFeatures))
        {
            row.Slice(segment.K, segment.Length).CopyTo(packed.Slice(checked((int)segment.Offset), segment.Length));
        }
    }

    /// <summary>Reads row n (in k order) out of the packed buffer.</summary>
    public static void GatherRow<T>(ReadOnlySpan<T> packed, Span<T> row, int n, int inFeatures, int outFeatures)
    {
        foreach (var segment in Segments(n, inFeatures, outFeatures))
        {
            packed.Slice(checked((int)segment.Offset), segment.Length).CopyTo(row.Slice(segment.K, segment.Length));
        }
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

/// <summary>The body of every packed-weight entry point (bf16, int8, f32-packed): check, pin, run the format's kernel.</summary>
internal static unsafe class LowPrecisionForward
{
    public static void Run<TFormat, TElement>(ReadOnlySpan<float> input, ReadOnlySpan<TElement> weight, ReadOnlySpan<float> scales,
        ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures, Span<float> output, bool scaled)
        where TFormat : struct, IWeightFormat where TElement : unmanaged
    {
        LowPrecisionShapes.Check(input.Length, weight.Length, scales.Length, bias.Length, output.Length, rows, inFeatures, outFeatures, scaled);
        if (rows == 0 || outFeatures == 0)
        {
            return;
        }
        fixed (float* inputPointer = input, scalePointer = scales, biasPointer = bias, outputPointer = output)
        fixed (TElement* weightPointer = weight)
        {
            var job = new LowPrecisionJob
            {
                Input = inputPointer,
                Weight = (byte*)weightPointer,
                Scales = scaled ? scalePointer : null,
                Bias = bias.IsEmpty ? null : biasPointer,
                Output = outputPointer,
                Rows = rows,
                InFeatures = inFeatures,
                OutFeatures = outFeatures,
            };
            LowPrecisionKernel<TFormat>.Run(&job);
        }
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
