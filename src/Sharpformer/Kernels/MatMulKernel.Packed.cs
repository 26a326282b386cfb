using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpformer.Kernels;

/// <summary>Prefill and training: the packed, cache-blocked kernel (see <see cref="MatMulKernel{TOps, TVector}"/>).</summary>
internal static unsafe partial class MatMulKernel<TOps, TVector> where TOps : struct, IVectorOps<TVector> where TVector : unmanaged
{
    private static void PackedTask(void* context, int task)
    {
        var job = (MatMulJob*)context;
        int n0 = task % job->ColumnBlocks * job->BlockColumns;
        int n1 = Math.Min(job->OutFeatures, n0 + job->BlockColumns);
        int m0 = task / job->ColumnBlocks * job->BlockRows;
        int m1 = Math.Min(job->Rows, m0 + job->BlockRows);
        int K = job->InFeatures, N = job->OutFeatures;
        int mr = MR;
        int slivers = DivideUp(m1 - m0, mr);
        int blockK = job->BlockK;
        float* panel = MatMulBuffers.Packed(blockK * NR);
        for (int k0 = 0; k0 < K; k0 += blockK)
        {
            int kc = Math.Min(blockK, K - k0);
            for (int n = n0; n < n1; n += NR)
            {
                int width = Math.Min(NR, n1 - n);
                PackPanel(job, k0, kc, n, width, panel);
                // While this panel is multiplied, pull the next one's weights into L2, a slice per micro-kernel call, so
                // packing it reads from cache instead of waiting on DRAM (about 7% at 128 rows).
                int nextN = n + NR < n1 ? n + NR : n0, nextK0 = n + NR < n1 ? k0 : k0 + blockK;
                int nextKc = Math.Min(blockK, K - nextK0), nextWidth = Math.Min(NR, n1 - nextN);
                for (int m = m0, sliver = 0; m < m1; m += mr, sliver++)
                {
                    if (nextK0 < K)
                    {
                        PrefetchBlock(job, nextK0, nextKc, nextN, nextN + nextWidth, sliver, slivers);
                    }
                    MicroKernel(kc, job->Input + (nint)m * K + k0, K, Math.Min(mr, m1 - m), panel, job->Output + (nint)m * N + n, N, width, accumulate: k0 > 0, job->Bias == null ? null : job->Bias + n);
                }
            }
        }
    }

    /// <summary>
    /// Packs W(k0:k0+kc, n:n+width) as a kc×NR panel, k outermost, so the micro-kernel reads both of its weight
    /// vectors for one k from adjacent memory. Columns past width are zero.
    /// </summary>
    private static void PackPanel(MatMulJob* job, int k0, int kc, int n, int width, float* panel)
    {
        int K = job->InFeatures, N = job->OutFeatures;
        float* w = job->Weight;
        if (job->Layout == WeightLayout.InputMajor)
        {
            for (int k = 0; k < kc; k++)
            {
                float* source = w + (nint)(k0 + k) * N + n;
                float* destination = panel + k * NR;
                if (width == NR)
                {
                    TOps.Store(TOps.Load(source), destination);
                    TOps.Store(TOps.Load(source + C), destination + C);
                    continue;
                }
                int j = 0;
                for (; j < width; j++)
                {
                    destination[j] = source[j];
                }
                for (; j < NR; j++)
                {
                    destination[j] = 0f;
                }
            }
            return;
        }
        // OutputMajor is a transpose: NR weight rows become NR panel columns, 16×16 or 8×8 blocks at a time in
        // registers where AVX-512 or AVX are there, element by element for the rest.
        int done = 0;
        if (width == NR)
        {
            if (typeof(TVector) == typeof(Vector512<float>) && Avx512F.IsSupported)
            {
                for (; done + 16 <= kc; done += 16)
                {
                    Transpose.Block16(w + (nint)n * K + k0 + done, K, panel + done * NR, NR);
                    Transpose.Block16(w + (nint)(n + 16) * K + k0 + done, K, panel + done * NR + 16, NR);
                }
            }
            else if (typeof(TVector) == typeof(Vector256<float>) && Avx.IsSupported)
            {
                for (; done + 8 <= kc; done += 8)
                {
                    Transpose.Block8(w + (nint)n * K + k0 + done, K, panel + done * NR, NR);
                    Transpose.Block8(w + (nint)(n + 8) * K + k0 + done, K, panel + done * NR + 8, NR);
                }
            }
        }
        for (int j = 0; j < NR; j++)
        {
            float* destination = panel + j;
            if (j < width)
            {
                float* source = w + (nint)(n + j) * K + k0;
                for (int k = done; k < kc; k++)
                {
                    destination[k * NR] = source[k];
                }
            }
            else
            {
                for (int k = done; k < kc; k++)
                {
                    destination[k * NR] = 0f;
                }
            }
        }
    }

    /// <summary>Prefetches into L2 slice <paramref name="part"/> of <paramref name="parts"/> of the weights that
    /// packing W(k0:k0+kc, n0:n1) will read. x86 only (.NET has no prefetch for Arm); elsewhere the hardware
    /// prefetcher must do.</summary>
    private static void PrefetchBlock(MatMulJob* job, int k0, int kc, int n0, int n1, int part, int parts)
    {
        if (!Sse.IsSupported)
        {
            return;
        }
        int K = job->InFeatures, N = job->OutFeatures;
        // InputMajor: kc weight rows, columns n0..n1 of each; OutputMajor: n1 - n0 weight rows, k0..k0+kc of each.
        bool inputMajor = job->Layout == WeightLayout.InputMajor;
        int rows = inputMajor ? kc : n1 - n0, length = inputMajor ? n1 - n0 : kc;
        float* first = inputMajor ? job->Weight + (nint)k0 * N + n0 : job->Weight + (nint)n0 * K + k0;
        nint stride = inputMajor ? N : K;
        for (int r = (int)((long)rows * part / parts), end = (int)((long)rows * (part + 1) / parts); r < end; r++)
        {
            float* row = first + r * stride;
            for (int j = 0; j < length; j += 16)
            {
                Sse.Prefetch1(row + j);
            }
            Sse.Prefetch1(row + length - 1);
        }
    }

    /// <summary>
    /// y[0:rows, 0:columns] (+)= x[0:rows, 0:kc] · panel, for rows ≤ MR and columns ≤ NR; x has row stride lda.
    /// accumulate=false writes x·panel + bias (the first k-block); true adds to y.
    /// </summary>
    [SkipLocalsInit]
    private static void MicroKernel(int kc, float* x, int lda, int rows, float* panel, float* y, int ldy, int columns,
        bool accumulate, float* bias)
    {
        int mr = MR;
        if (rows == mr && columns == NR)
        {
            // A whole tile goes from the accumulators straight into y (a round trip through a scratch tile cost 9%).
            if (mr == 8)
            {
                MicroTile8(kc, x, rows, lda, panel, y, ldy, accumulate, bias);
            }
            else
            {
                MicroTile6(kc, x, rows, lda, panel, y, ldy, accumulate, bias);
            }
            return;
        }
        // An edge tile lands in a scratch tile, of which the valid part is copied.
        int ldt = NR;
        float* tile = stackalloc float[mr * ldt];
        if (mr == 8)
        {
            MicroTile8(kc, x, rows, lda, panel, tile, ldt, accumulate: false, bias: null);
        }
        else
        {
            MicroTile6(kc, x, rows, lda, panel, tile, ldt, accumulate: false, bias: null);
        }
        for (int i = 0; i < rows; i++)
        {
            float* yi = y + (nint)i * ldy;
            float* ti = tile + i * ldt;
            for (int j = 0; j < columns; j++)
            {
                yi[j] = (accumulate ? yi[j] : bias == null ? 0f : bias[j]) + ti[j];
            }
        }
    }

    /// <summary>Asks for the MR×NR tile at y in L1 while the k loop runs, so the write-back does not wait on L2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile(float* y, nint ldy, int rows)
    {
        if (Sse.IsSupported)
        {
            for (int i = 0; i < rows; i++)
            {
                Sse.Prefetch0(y + i * ldy);
                Sse.Prefetch0(y + i * ldy + NR - 1);
            }
        }
    }

    /// <summary>y[MR, NR] (+)= x[MR rows, kc] · panel[kc, NR] (+ bias): 12 vector accumulators, 2 weight loads and 6 broadcasts a k.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MicroTile6(int kc, float* x, int rows, int lda, float* panel, float* y, nint ldy, bool accumulate,
        float* bias)
    {
        // Rows past the edge re-read row 0: valid memory, and their results are dropped.
        float* x0 = x, x1 = rows > 1 ? x + lda : x, x2 = rows > 2 ? x + 2 * lda : x;
        float* x3 = rows > 3 ? x + 3 * lda : x, x4 = rows > 4 ? x + 4 * lda : x, x5 = rows > 5 ? x + 5 * lda : x;
        TVector y00 = default, y01 = default, y10 = default, y11 = default, y20 = default, y21 = default;
        TVector y30 = default, y31 = default, y40 = default, y41 = default, y50 = default, y51 = default;
        PrefetchTile(y, ldy, rows);
        int c = C;
        for (int k = 0; k < kc; k++, panel += 2 * c)
        {
            TVector w0 = TOps.Load(panel), w1 = TOps.Load(panel + c);
            TVector a = TOps.Create(x0[k]);
            y00 = TOps.MultiplyAdd(w0, a, y00);
            y01 = TOps.MultiplyAdd(w1, a, y01);
            a = TOps.Create(x1[k]);
            y10 = TOps.MultiplyAdd(w0, a, y10);
            y11 = TOps.MultiplyAdd(w1, a, y11);
            a = TOps.Create(x2[k]);
            y20 = TOps.MultiplyAdd(w0, a, y20);
            y21 = TOps.MultiplyAdd(w1, a, y21);
            a = TOps.Create(x3[k]);
            y30 = TOps.MultiplyAdd(w0, a, y30);
            y31 = TOps.MultiplyAdd(w1, a, y31);
            a = TOps.Create(x4[k]);
            y40 = TOps.MultiplyAdd(w0, a, y40);
            y41 = TOps.MultiplyAdd(w1, a, y41);
            a = TOps.Create(x5[k]);
            y50 = TOps.MultiplyAdd(w0, a, y50);
            y51 = TOps.MultiplyAdd(w1, a, y51);
        }
        StoreRow(y00, y01, y + 0 * ldy, accumulate, bias);
        StoreRow(y10, y11, y + 1 * ldy, accumulate, bias);
        StoreRow(y20, y21, y + 2 * ldy, accumulate, bias);
        StoreRow(y30, y31, y + 3 * ldy, accumulate, bias);
        StoreRow(y40, y41, y + 4 * ldy, accumulate, bias);
        StoreRow(y50, y51, y + 5 * ldy, accumulate, bias);
    }

    /// <summary>y[MR, NR] (+)= x[MR rows, kc] · panel[kc, NR] (+ bias): 16 vector accumulators, 2 weight loads and 8 broadcasts a k.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MicroTile8(int kc, float* x, int rows, int lda, float* panel, float* y, nint ldy, bool accumulate,
        float* bias)
    {
        // Rows past the edge re-read row 0: valid memory, and their results are dropped.
        float* x0 = x, x1 = rows > 1 ? x + lda : x, x2 = rows > 2 ? x + 2 * lda : x;
        float* x3 = rows > 3 ? x + 3 * lda : x, x4 = rows > 4 ? x + 4 * lda : x, x5 = rows > 5 ? x + 5 * lda : x;
        float* x6 = rows > 6 ? x + 6 * lda : x, x7 = rows > 7 ? x + 7 * lda : x;
        TVector y00 = default, y01 = default, y10 = default, y11 = default, y20 = default, y21 = default;
        TVector y30 = default, y31 = default, y40 = default, y41 = default, y50 = default, y51 = default;
        TVector y60 = default, y61 = default, y70 = default, y71 = default;
        PrefetchTile(y, ldy, rows);
        int c = C;
        for (int k = 0; k < kc; k++, panel += 2 * c)
        {
            TVector w0 = TOps.Load(panel), w1 = TOps.Load(panel + c);
            TVector a = TOps.Create(x0[k]);
            y00 = TOps.MultiplyAdd(w0, a, y00);
            y01 = TOps.MultiplyAdd(w1, a, y01);
            a = TOps.Create(x1[k]);
            y10 = TOps.MultiplyAdd(w0, a, y10);
            y11 = TOps.MultiplyAdd(w1, a, y11);
            a = TOps.Create(x2[k]);
            y20 = TOps.MultiplyAdd(w0, a, y20);
            y21 = TOps.MultiplyAdd(w1, a, y21);
            a = TOps.Create(x3[k]);
            y30 = TOps.MultiplyAdd(w0, a, y30);
            y31 = TOps.MultiplyAdd(w1, a, y31);
            a = TOps.Create(x4[k]);
            y40 = TOps.MultiplyAdd(w0, a, y40);
            y41 = TOps.MultiplyAdd(w1, a, y41);
            a = TOps.Create(x5[k]);
            y50 = TOps.MultiplyAdd(w0, a, y50);
            y51 = TOps.MultiplyAdd(w1, a, y51);
            a = TOps.Create(x6[k]);
            y60 = TOps.MultiplyAdd(w0, a, y60);
            y61 = TOps.MultiplyAdd(w1, a, y61);
            a = TOps.Create(x7[k]);
            y70 = TOps.MultiplyAdd(w0, a, y70);
            y71 = TOps.MultiplyAdd(w1, a, y71);
        }
        StoreRow(y00, y01, y + 0 * ldy, accumulate, bias);
        StoreRow(y10, y11, y + 1 * ldy, accumulate, bias);
        StoreRow(y20, y21, y + 2 * ldy, accumulate, bias);
        StoreRow(y30, y31, y + 3 * ldy, accumulate, bias);
        StoreRow(y40, y41, y + 4 * ldy, accumulate, bias);
        StoreRow(y50, y51, y + 5 * ldy, accumulate, bias);
        StoreRow(y60, y61, y + 6 * ldy, accumulate, bias);
        StoreRow(y70, y71, y + 7 * ldy, accumulate, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(TVector first, TVector second, float* y, bool accumulate, float* bias)
    {
        int c = C;
        if (accumulate)
        {
            first = TOps.Add(first, TOps.Load(y));
            second = TOps.Add(second, TOps.Load(y + c));
        }
        else if (bias != null)
        {
            first = TOps.Add(first, TOps.Load(bias));
            second = TOps.Add(second, TOps.Load(bias + c));
        }
        TOps.Store(first, y);
        TOps.Store(second, y + c);
    }
}

/// <summary>In-register transposes of square blocks, for packing OutputMajor weights.</summary>
internal static unsafe class Transpose
{
    /// <summary>destination[j, i] = source[i, j] for a 16×16 block; strides in floats. AVX-512 only.</summary>
    public static void Block16(float* source, int sourceStride, float* destination, int destinationStride)
    {
        // Written out so all 16 rows stay in registers. Four steps: pair floats (unpack), pairs (shufps), then
        // 128-bit lanes twice (shuff32x4). After step two, s[4g + c] holds columns c, c+4, c+8, c+12 of rows 4g..4g+3.
        nint stride = sourceStride;
        Vector512<float> r0 = Vector512.Load(source);
        Vector512<float> r1 = Vector512.Load(source + stride);
        Vector512<float> r2 = Vector512.Load(source + 2 * stride);
        Vector512<float> r3 = Vector512.Load(source + 3 * stride);
        Vector512<float> r4 = Vector512.Load(source + 4 * stride);
        Vector512<float> r5 = Vector512.Load(source + 5 * stride);
        Vector512<float> r6 = Vector512.Load(source + 6 * stride);
        Vector512<float> r7 = Vector512.Load(source + 7 * stride);
        Vector512<float> r8 = Vector512.Load(source + 8 * stride);
        Vector512<float> r9 = Vector512.Load(source + 9 * stride);
        Vector512<float> r10 = Vector512.Load(source + 10 * stride);
        Vector512<float> r11 = Vector512.Load(source + 11 * stride);
        Vector512<float> r12 = Vector512.Load(source + 12 * stride);
        Vector512<float> r13 = Vector512.Load(source + 13 * stride);
        Vector512<float> r14 = Vector512.Load(source + 14 * stride);
        Vector512<float> r15 = Vector512.Load(source + 15 * stride);
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<float> t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<float> t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9), t9 = Avx512F.UnpackHigh(r8, r9);
        Vector512<float> t10 = Avx512F.UnpackLow(r10, r11), t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13), t13 = Avx512F.UnpackHigh(r12, r13);
        Vector512<float> t14 = Avx512F.UnpackLow(r14, r15), t15 = Avx512F.UnpackHigh(r14, r15);
        Vector512<float> s0 = Avx512F.Shuffle(t0, t2, 0x44), s1 = Avx512F.Shuffle(t0, t2, 0xEE);
        Vector512<float> s2 = Avx512F.Shuffle(t1, t3, 0x44), s3 = Avx512F.Shuffle(t1, t3, 0xEE);
        Vector512<float> s4 = Avx512F.Shuffle(t4, t6, 0x44), s5 = Avx512F.Shuffle(t4, t6, 0xEE);
        Vector512<float> s6 = Avx512F.Shuffle(t5, t7, 0x44), s7 = Avx512F.Shuffle(t5, t7, 0xEE);
        Vector512<float> s8 = Avx512F.Shuffle(t8, t10, 0x44), s9 = Avx512F.Shuffle(t8, t10, 0xEE);
        Vector512<float> s10 = Avx512F.Shuffle(t9, t11, 0x44), s11 = Avx512F.Shuffle(t9, t11, 0xEE);
        Vector512<float> s12 = Avx512F.Shuffle(t12, t14, 0x44), s13 = Avx512F.Shuffle(t12, t14, 0xEE);
        Vector512<float> s14 = Avx512F.Shuffle(t13, t15, 0x44), s15 = Avx512F.Shuffle(t13, t15, 0xEE);
        Vector512<float> u0 = Avx512F.Shuffle4x128(s0, s4, 0x88), u4 = Avx512F.Shuffle4x128(s0, s4, 0xDD);
        Vector512<float> u8 = Avx512F.Shuffle4x128(s8, s12, 0x88), u12 = Avx512F.Shuffle4x128(s8, s12, 0xDD);
        Vector512<float> u1 = Avx512F.Shuffle4x128(s1, s5, 0x88), u5 = Avx512F.Shuffle4x128(s1, s5, 0xDD);
        Vector512<float> u9 = Avx512F.Shuffle4x128(s9, s13, 0x88), u13 = Avx512F.Shuffle4x128(s9, s13, 0xDD);
        Vector512<float> u2 = Avx512F.Shuffle4x128(s2, s6, 0x88), u6 = Avx512F.Shuffle4x128(s2, s6, 0xDD);
        Vector512<float> u10 = Avx512F.Shuffle4x128(s10, s14, 0x88), u14 = Avx512F.Shuffle4x128(s10, s14, 0xDD);
        Vector512<float> u3 = Avx512F.Shuffle4x128(s3, s7, 0x88), u7 = Avx512F.Shuffle4x128(s3, s7, 0xDD);
        Vector512<float> u11 = Avx512F.Shuffle4x128(s11, s15, 0x88), u15 = Avx512F.Shuffle4x128(s11, s15, 0xDD);
        nint d = destinationStride;
        Avx512F.Shuffle4x128(u0, u8, 0x88).Store(destination);
        Avx512F.Shuffle4x128(u0, u8, 0xDD).Store(destination + 8 * d);
        Avx512F.Shuffle4x128(u4, u12, 0x88).Store(destination + 4 * d);
        Avx512F.Shuffle4x128(u4, u12, 0xDD).Store(destination + 12 * d);
        Avx512F.Shuffle4x128(u1, u9, 0x88).Store(destination + d);
        Avx512F.Shuffle4x128(u1, u9, 0xDD).Store(destination + 9 * d);
        Avx512F.Shuffle4x128(u5, u13, 0x88).Store(destination + 5 * d);
        Avx512F.Shuffle4x128(u5, u13, 0xDD).Store(destination + 13 * d);
        Avx512F.Shuffle4x128(u2, u10, 0x88).Store(destination + 2 * d);
        Avx512F.Shuffle4x128(u2, u10, 0xDD).Store(destination + 10 * d);
        Avx512F.Shuffle4x128(u6, u14, 0x88).Store(destination + 6 * d);
        Avx512F.Shuffle4x128(u6, u14, 0xDD).Store(destination + 14 * d);
        Avx512F.Shuffle4x128(u3, u11, 0x88).Store(destination + 3 * d);
        Avx512F.Shuffle4x128(u3, u11, 0xDD).Store(destination + 11 * d);
        Avx512F.Shuffle4x128(u7, u15, 0x88).Store(destination + 7 * d);
        Avx512F.Shuffle4x128(u7, u15, 0xDD).Store(destination + 15 * d);
    }

    /// <summary>destination[j, i] = source[i, j] for an 8×8 block; strides in floats. AVX only.</summary>
    public static void Block8(float* source, int sourceStride, float* destination, int destinationStride)
    {
        var r = stackalloc Vector256<float>[8];
        var t = stackalloc Vector256<float>[8];
        for (int i = 0; i < 8; i++)
        {
            r[i] = Vector256.Load(source + (nint)i * sourceStride);
        }
        for (int i = 0; i < 8; i += 2)
        {
            t[i] = Avx.UnpackLow(r[i], r[i + 1]);
            t[i + 1] = Avx.UnpackHigh(r[i], r[i + 1]);
        }
        for (int g = 0; g < 8; g += 4)
        {
            r[g] = Avx.Shuffle(t[g], t[g + 2], 0x44);
            r[g + 1] = Avx.Shuffle(t[g], t[g + 2], 0xEE);
            r[g + 2] = Avx.Shuffle(t[g + 1], t[g + 3], 0x44);
            r[g + 3] = Avx.Shuffle(t[g + 1], t[g + 3], 0xEE);
        }
        for (int c = 0; c < 4; c++)
        {
            Avx.Permute2x128(r[c], r[c + 4], 0x20).Store(destination + (nint)c * destinationStride);
            Avx.Permute2x128(r[c], r[c + 4], 0x31).Store(destination + (nint)(c + 4) * destinationStride);
        }
    }
}

/// <summary>Per-thread packing scratch, 64-byte aligned and pinned, allocated once per thread.</summary>
internal static unsafe class MatMulBuffers
{
    [ThreadStatic]
    private static float[]? _array;

    [ThreadStatic]
    private static nint _aligned;

    [ThreadStatic]
    private static float[]? _partialsArray;

    [ThreadStatic]
    private static nint _partials;

    /// <summary>Scratch for packing one weight panel, on the thread running the task.</summary>
    public static float* Packed(int length) => Get(ref _array, ref _aligned, length);

    [ThreadStatic]
    private static float[]? _inputArray;

    [ThreadStatic]
    private static nint _input;

    /// <summary>The streaming kernel's phase-shifted copy of an input row, owned by the calling thread.</summary>
    public static float* Input(int length) => Get(ref _inputArray, ref _input, length);

    /// <summary>Partial sums of the streaming kernel's k-split, owned by the calling thread.</summary>
    public static float* Partials(int length) => Get(ref _partialsArray, ref _partials, length);

    private static float* Get(ref float[]? array, ref nint aligned, int length)
    {
        if (array == null || array.Length < length + 16)
        {
            array = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
            aligned = ((nint)Unsafe.AsPointer(ref array[0]) + 63) & ~(nint)63;
        }
        return (float*)aligned;
    }
}
