using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Sharpformer.Kernels;

/// <summary>Decode: stream the weight once (see <see cref="MatMulKernel{TOps, TVector}"/>).</summary>
internal static unsafe partial class MatMulKernel<TOps, TVector> where TOps : struct, IVectorOps<TVector> where TVector : unmanaged
{
    private static void StreamInputMajorTask(void* context, int task)
    {
        var job = (MatMulJob*)context;
        int k0 = task < job->BigTasks ? task * job->BlockK : job->BigTasks * job->BlockK + (task - job->BigTasks) * job->SmallK;
        int k1 = Math.Min(job->InFeatures, k0 + (task < job->BigTasks ? job->BlockK : job->SmallK));
        float* y = job->Phase >= 0 ? job->Partials + (nint)task * job->PartialStride
            : task == 0 ? job->Output : job->Partials + (nint)(task - 1) * job->Rows * job->OutFeatures;
        float* bias = task == 0 ? job->Bias : null;
        switch (job->Rows)
        {
            case 1:
                if (job->Phase >= 0)
                {
                    StreamInputMajorColumns(job, k0, k1, bias, y);
                }
                else
                {
                    StreamInputMajor<Rows1>(job, k0, k1, bias, y);
                }
                break;
            case 2:
                StreamInputMajor<Rows2>(job, k0, k1, bias, y);
                break;
            case 3:
                StreamInputMajor<Rows3>(job, k0, k1, bias, y);
                break;
            default:
                StreamInputMajor<Rows4>(job, k0, k1, bias, y);
                break;
        }
    }

    private static void StreamOutputMajorTask(void* context, int task)
    {
        var job = (MatMulJob*)context;
        // Tasks below BigTasks are BlockColumns wide, the rest SmallK.
        int n0 = task < job->BigTasks ? task * job->BlockColumns : job->BigTasks * job->BlockColumns + (task - job->BigTasks) * job->SmallK;
        int n1 = Math.Min(job->OutFeatures, n0 + (task < job->BigTasks ? job->BlockColumns : job->SmallK));
        switch (job->Rows)
        {
            case 1:
                StreamOutputMajor<Rows1>(job, n0, n1);
                break;
            case 2:
                StreamOutputMajor<Rows2>(job, n0, n1);
                break;
            case 3:
                StreamOutputMajor<Rows3>(job, n0, n1);
                break;
            default:
                StreamOutputMajor<Rows4>(job, n0, n1);
                break;
        }
    }

    /// <summary>
    /// y = x[:, k0:k1] · w[k0:k1, :] + b for TRows rows (y has the output's shape; b may be null), reading the weight
    /// rows once, four k at a time: the four weight vectors are loaded once and added into every output row.
    /// </summary>
    private static void StreamInputMajor<TRows>(MatMulJob* job, int k0, int k1, float* b, float* y)
        where TRows : struct, IRowCount
    {
        int M = TRows.Value, K = job->InFeatures, N = job->OutFeatures;
        float* x = job->Input, w = job->Weight;
        // Rows past M alias row 0 and are never stored.
        float* x0 = x, x1 = M > 1 ? x + K : x, x2 = M > 2 ? x + 2 * K : x, x3 = M > 3 ? x + 3 * K : x;
        float* y0 = y, y1 = y0 + N, y2 = y1 + N, y3 = y2 + N;
        // Output columns in slices of up to 32 KiB, so the output rows stay in L1 while the weight rows pass; GPT-2's
        // single row fits in one slice, so its weight is read front to back.
        int chunk = Math.Max(C, 8192 / M / C * C);
        for (int s0 = 0; s0 < N; s0 += chunk)
        {
            int s1 = Math.Min(N, s0 + chunk);
            int vectorEnd = s0 + (s1 - s0) / C * C;
            for (int m = 0; m < M; m++)
            {
                float* ym = y0 + (nint)m * N;
                for (int n = s0; n < s1; n++)
                {
                    ym[n] = b == null ? 0f : b[n];
                }
            }
            int k = k0;
            int phase = job->Phase;
            for (; k + 4 <= k1; k += 4)
            {
                float* w0 = w + (nint)k * N, w1 = w0 + N, w2 = w1 + N, w3 = w2 + N;
                // Vectors start where the rows reach a vector boundary (a checkpoint maps at any offset, and a load that
                // splits a cache line streams slower). With a phase (y shares it) the vectors before and after the
                // columns are masked; without, those columns go one by one.
                int vectorStart, quadVectorEnd;
                if (phase >= 0)
                {
                    vectorStart = s0 - phase;
                    if (phase > 0)
                    {
                        AddQuadEdge(x + k, K, M, w0, N, y0, vectorStart, phase, Math.Min(C, s1 - vectorStart));
                        vectorStart += C;
                    }
                    quadVectorEnd = vectorStart + Math.Max(0, s1 - vectorStart) / C * C;
                    if (quadVectorEnd < s1)
                    {
                        AddQuadEdge(x + k, K, M, w0, N, y0, quadVectorEnd, 0, s1 - quadVectorEnd);
                    }
                }
                else
                {
                    vectorStart = s0 + Math.Min(s1 - s0, (int)((-(nint)(w0 + s0) & (C * sizeof(float) - 1)) / sizeof(float)));
                    quadVectorEnd = vectorStart + (s1 - vectorStart) / C * C;
                    AddQuadColumns(x + k, K, M, w0, N, y0, s0, vectorStart);
                    AddQuadColumns(x + k, K, M, w0, N, y0, quadVectorEnd, s1);
                }
                TVector a0 = TOps.Create(x0[k]), a1 = TOps.Create(x0[k + 1]);
                TVector a2 = TOps.Create(x0[k + 2]), a3 = TOps.Create(x0[k + 3]);
                TVector b0 = TOps.Create(x1[k]), b1 = TOps.Create(x1[k + 1]);
                TVector b2 = TOps.Create(x1[k + 2]), b3 = TOps.Create(x1[k + 3]);
                TVector c0 = TOps.Create(x2[k]), c1 = TOps.Create(x2[k + 1]);
                TVector c2 = TOps.Create(x2[k + 2]), c3 = TOps.Create(x2[k + 3]);
                TVector d0 = TOps.Create(x3[k]), d1 = TOps.Create(x3[k + 1]);
                TVector d2 = TOps.Create(x3[k + 2]), d3 = TOps.Create(x3[k + 3]);
                int n = vectorStart;
                for (; n < quadVectorEnd; n += C)
                {
                    TVector v0 = TOps.Load(w0 + n), v1 = TOps.Load(w1 + n);
                    TVector v2 = TOps.Load(w2 + n), v3 = TOps.Load(w3 + n);
                    TOps.Store(AddFour(TOps.Load(y0 + n), a0, v0, a1, v1, a2, v2, a3, v3), y0 + n);
                    if (M > 1)
                    {
                        TOps.Store(AddFour(TOps.Load(y1 + n), b0, v0, b1, v1, b2, v2, b3, v3), y1 + n);
                    }
                    if (M > 2)
                    {
                        TOps.Store(AddFour(TOps.Load(y2 + n), c0, v0, c1, v1, c2, v2, c3, v3), y2 + n);
                    }
                    if (M > 3)
                    {
                        TOps.Store(AddFour(TOps.Load(y3 + n), d0, v0, d1, v1, d2, v2, d3, v3), y3 + n);
                    }
                }
            }
            for (; k < k1; k++)
            {
                float* w0 = w + (nint)k * N;
                for (int m = 0; m < M; m++)
                {
                    float xk = x[(nint)m * K + k];
                    float* ym = y0 + (nint)m * N;
                    TVector a0 = TOps.Create(xk);
                    int n = s0;
                    for (; n < vectorEnd; n += C)
                    {
                        TOps.Store(TOps.MultiplyAdd(a0, TOps.Load(w0 + n), TOps.Load(ym + n)), ym + n);
                    }
                    for (; n < s1; n++)
                    {
                        ym[n] += xk * w0[n];
                    }
                }
            }
        }
    }

    /// <summary>y[m, n] += Σ_j x[m, j] · w[j, n] for j in 0..3, m &lt; rows and n in [n0, n1), one by one (edges of the vector loop).</summary>
    private static void AddQuadColumns(float* x, int ldx, int rows, float* w, int ldw, float* y, int n0, int n1)
    {
        for (int n = n0; n < n1; n++)
        {
            for (int m = 0; m < rows; m++)
            {
                float* xm = x + (nint)m * ldx;
                y[(nint)m * ldw + n] += xm[0] * w[n] + xm[1] * w[ldw + n] + xm[2] * w[2 * ldw + n] + xm[3] * w[3 * (nint)ldw + n];
            }
        }
    }

    /// <summary>
    /// One input row, rows at a phase (y shares it): y = x[k0:k1] · w[k0:k1, :] + b, sixteen (AVX-512) or eight vectors
    /// of columns at a time held in registers while the rows pass, two rows at a time from the two halves of the
    /// k-range (two streams). Each output vector is stored once, rather than loaded and stored for every few rows; the
    /// weight is read in 0.5–1 KiB pieces of each row, which the prefetchers follow as well as whole rows. Against four
    /// rows at a time added into y in L1, GPT-2's block weights streamed 7–11% faster. The lanes of y before column 0
    /// and after the last are slack (whatever the weight holds there lands in them).
    /// </summary>
    private static void StreamInputMajorColumns(MatMulJob* job, int k0, int k1, float* b, float* y)
    {
        int N = job->OutFeatures, phase = job->Phase;
        float* x = job->Input, w = job->Weight;
        int half = (k1 - k0) / 2, leftover = (k1 - k0) & 1;
        int vectors = (N + phase + C - 1) / C;
        int v = 0;
        // Sixteen vectors at a time where there are 32 vector registers (AVX-512): 1 KiB of each row per pass instead of
        // 512 bytes, about 1.5% faster GPT-2 f32 decode in an in-process A/B.
        for (; TOps.Count >= 16 && v + 16 <= vectors; v += 16)
        {
            float* column = w - phase + v * C;
            TVector r0 = default, r1 = default, r2 = default, r3 = default;
            TVector r4 = default, r5 = default, r6 = default, r7 = default;
            TVector r8 = default, r9 = default, r10 = default, r11 = default;
            TVector r12 = default, r13 = default, r14 = default, r15 = default;
            for (int i = 0; i < half + leftover; i++)
            {
                // Row k0 + i with row k0 + half + i; when the range is odd, a last pass takes the row left over alone.
                bool paired = i < half;
                int k = paired ? k0 + i : k1 - 1;
                float* wa = column + (nint)k * N;
                TVector a = TOps.Create(x[k]);
                r0 = TOps.MultiplyAdd(a, TOps.Load(wa), r0);
                r1 = TOps.MultiplyAdd(a, TOps.Load(wa + C), r1);
                r2 = TOps.MultiplyAdd(a, TOps.Load(wa + 2 * C), r2);
                r3 = TOps.MultiplyAdd(a, TOps.Load(wa + 3 * C), r3);
                r4 = TOps.MultiplyAdd(a, TOps.Load(wa + 4 * C), r4);
                r5 = TOps.MultiplyAdd(a, TOps.Load(wa + 5 * C), r5);
                r6 = TOps.MultiplyAdd(a, TOps.Load(wa + 6 * C), r6);
                r7 = TOps.MultiplyAdd(a, TOps.Load(wa + 7 * C), r7);
                r8 = TOps.MultiplyAdd(a, TOps.Load(wa + 8 * C), r8);
                r9 = TOps.MultiplyAdd(a, TOps.Load(wa + 9 * C), r9);
                r10 = TOps.MultiplyAdd(a, TOps.Load(wa + 10 * C), r10);
                r11 = TOps.MultiplyAdd(a, TOps.Load(wa + 11 * C), r11);
                r12 = TOps.MultiplyAdd(a, TOps.Load(wa + 12 * C), r12);
                r13 = TOps.MultiplyAdd(a, TOps.Load(wa + 13 * C), r13);
                r14 = TOps.MultiplyAdd(a, TOps.Load(wa + 14 * C), r14);
                r15 = TOps.MultiplyAdd(a, TOps.Load(wa + 15 * C), r15);
                if (!paired)
                {
                    continue;
                }
                float* wb = wa + (nint)half * N;
                TVector c = TOps.Create(x[k + half]);
                r0 = TOps.MultiplyAdd(c, TOps.Load(wb), r0);
                r1 = TOps.MultiplyAdd(c, TOps.Load(wb + C), r1);
                r2 = TOps.MultiplyAdd(c, TOps.Load(wb + 2 * C), r2);
                r3 = TOps.MultiplyAdd(c, TOps.Load(wb + 3 * C), r3);
                r4 = TOps.MultiplyAdd(c, TOps.Load(wb + 4 * C), r4);
                r5 = TOps.MultiplyAdd(c, TOps.Load(wb + 5 * C), r5);
                r6 = TOps.MultiplyAdd(c, TOps.Load(wb + 6 * C), r6);
                r7 = TOps.MultiplyAdd(c, TOps.Load(wb + 7 * C), r7);
                r8 = TOps.MultiplyAdd(c, TOps.Load(wb + 8 * C), r8);
                r9 = TOps.MultiplyAdd(c, TOps.Load(wb + 9 * C), r9);
                r10 = TOps.MultiplyAdd(c, TOps.Load(wb + 10 * C), r10);
                r11 = TOps.MultiplyAdd(c, TOps.Load(wb + 11 * C), r11);
                r12 = TOps.MultiplyAdd(c, TOps.Load(wb + 12 * C), r12);
                r13 = TOps.MultiplyAdd(c, TOps.Load(wb + 13 * C), r13);
                r14 = TOps.MultiplyAdd(c, TOps.Load(wb + 14 * C), r14);
                r15 = TOps.MultiplyAdd(c, TOps.Load(wb + 15 * C), r15);
            }
            float* yv = y - phase + v * C;
            TOps.Store(r0, yv);
            TOps.Store(r1, yv + C);
            TOps.Store(r2, yv + 2 * C);
            TOps.Store(r3, yv + 3 * C);
            TOps.Store(r4, yv + 4 * C);
            TOps.Store(r5, yv + 5 * C);
            TOps.Store(r6, yv + 6 * C);
            TOps.Store(r7, yv + 7 * C);
            TOps.Store(r8, yv + 8 * C);
            TOps.Store(r9, yv + 9 * C);
            TOps.Store(r10, yv + 10 * C);
            TOps.Store(r11, yv + 11 * C);
            TOps.Store(r12, yv + 12 * C);
            TOps.Store(r13, yv + 13 * C);
            TOps.Store(r14, yv + 14 * C);
            TOps.Store(r15, yv + 15 * C);
        }
        for (; v + 8 <= vectors; v += 8)
        {
            float* column = w - phase + v * C;
            TVector r0 = default, r1 = default, r2 = default, r3 = default;
            TVector r4 = default, r5 = default, r6 = default, r7 = default;
            for (int i = 0; i < half + leftover; i++)
            {
                // As above: row k0 + i with row k0 + half + i, then the row left over alone.
                bool paired = i < half;
                int k = paired ? k0 + i : k1 - 1;
                float* wa = column + (nint)k * N;
                TVector a = TOps.Create(x[k]);
                r0 = TOps.MultiplyAdd(a, TOps.Load(wa), r0);
                r1 = TOps.MultiplyAdd(a, TOps.Load(wa + C), r1);
                r2 = TOps.MultiplyAdd(a, TOps.Load(wa + 2 * C), r2);
                r3 = TOps.MultiplyAdd(a, TOps.Load(wa + 3 * C), r3);
                r4 = TOps.MultiplyAdd(a, TOps.Load(wa + 4 * C), r4);
                r5 = TOps.MultiplyAdd(a, TOps.Load(wa + 5 * C), r5);
                r6 = TOps.MultiplyAdd(a, TOps.Load(wa + 6 * C), r6);
                r7 = TOps.MultiplyAdd(a, TOps.Load(wa + 7 * C), r7);
                if (!paired)
                {
                    continue;
                }
                float* wb = wa + (nint)half * N;
                TVector c = TOps.Create(x[k + half]);
                r0 = TOps.MultiplyAdd(c, TOps.Load(wb), r0);
                r1 = TOps.MultiplyAdd(c, TOps.Load(wb + C), r1);
                r2 = TOps.MultiplyAdd(c, TOps.Load(wb + 2 * C), r2);
                r3 = TOps.MultiplyAdd(c, TOps.Load(wb + 3 * C), r3);
                r4 = TOps.MultiplyAdd(c, TOps.Load(wb + 4 * C), r4);
                r5 = TOps.MultiplyAdd(c, TOps.Load(wb + 5 * C), r5);
                r6 = TOps.MultiplyAdd(c, TOps.Load(wb + 6 * C), r6);
                r7 = TOps.MultiplyAdd(c, TOps.Load(wb + 7 * C), r7);
            }
            float* yv = y - phase + v * C;
            TOps.Store(r0, yv);
            TOps.Store(r1, yv + C);
            TOps.Store(r2, yv + 2 * C);
            TOps.Store(r3, yv + 3 * C);
            TOps.Store(r4, yv + 4 * C);
            TOps.Store(r5, yv + 5 * C);
            TOps.Store(r6, yv + 6 * C);
            TOps.Store(r7, yv + 7 * C);
        }
        for (; v < vectors; v++)
        {
            // The last few vectors, one at a time.
            float* column = w - phase + v * C;
            TVector r0 = default, r1 = default;
            for (int k = k0; k < k0 + half; k++)
            {
                r0 = TOps.MultiplyAdd(TOps.Create(x[k]), TOps.Load(column + (nint)k * N), r0);
                r1 = TOps.MultiplyAdd(TOps.Create(x[k + half]), TOps.Load(column + (nint)(k + half) * N), r1);
            }
            for (int k = k0 + 2 * half; k < k1; k++)
            {
                r0 = TOps.MultiplyAdd(TOps.Create(x[k]), TOps.Load(column + (nint)k * N), r0);
            }
            TOps.Store(TOps.Add(r0, r1), y - phase + v * C);
        }
        if (b != null)
        {
            TensorPrimitives.Add(new ReadOnlySpan<float>(y, N), new ReadOnlySpan<float>(b, N), new Span<float>(y, N));
        }
    }

    /// <summary>
    /// AddQuadColumns for one aligned vector at column n, of which only lanes first ≤ i &lt; end are columns of the slice
    /// (the others are the neighbouring row's or slack, and keep their values whatever the weight holds there).
    /// </summary>
    private static void AddQuadEdge(float* x, int ldx, int rows, float* w, int ldw, float* y, int n, int first, int end)
    {
        TVector v0 = TOps.Load(w + n), v1 = TOps.Load(w + ldw + n);
        TVector v2 = TOps.Load(w + 2 * (nint)ldw + n), v3 = TOps.Load(w + 3 * (nint)ldw + n);
        for (int m = 0; m < rows; m++)
        {
            float* xm = x + (nint)m * ldx;
            float* ym = y + (nint)m * ldw + n;
            TVector old = TOps.Load(ym);
            TVector sum = AddFour(old, TOps.Create(xm[0]), v0, TOps.Create(xm[1]), v1, TOps.Create(xm[2]), v2, TOps.Create(xm[3]), v3);
            TOps.Store(TOps.Blend(sum, old, first, end), ym);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector AddFour(TVector sum, TVector a0, TVector v0, TVector a1, TVector v1, TVector a2, TVector v2,
        TVector a3, TVector v3) =>
        TOps.MultiplyAdd(a3, v3, TOps.MultiplyAdd(a2, v2, TOps.MultiplyAdd(a1, v1, TOps.MultiplyAdd(a0, v0, sum))));

    /// <summary>
    /// y[:, n0:n1] = x · w[n0:n1, :]ᵀ + b for TRows rows: dot products of every input row with four weight rows at a
    /// time, in TRows × 4 vector accumulators, so each weight vector is loaded once.
    /// </summary>
    private static void StreamOutputMajor<TRows>(MatMulJob* job, int n0, int n1) where TRows : struct, IRowCount
    {
        int M = TRows.Value, K = job->InFeatures, N = job->OutFeatures;
        float* x = job->Input, w = job->Weight, b = job->Bias, y = job->Output;
        float* x0 = x, x1 = M > 1 ? x + K : x, x2 = M > 2 ? x + 2 * K : x, x3 = M > 3 ? x + 3 * K : x;
        int vectorEnd = K / C * C;
        int n = n0;
        if (M == 1 && job->Phase >= 0)
        {
            // One input row, every weight row at the same phase: whole aligned vectors from the vector boundary before
            // each row to the one after, dotted with the input copied to that phase; the lanes outside the row are
            // masked in the first and last vector.
            int phase = job->Phase;
            int vectors = (K + phase + C - 1) / C;
            int lastEnd = K + phase - (vectors - 1) * C;
            float* xa = job->PhasedInput - phase;
            TVector zero = default;
            for (; n < n1; n++)
            {
                float* wa = w + (nint)n * K - phase;
                TVector s0 = TOps.MultiplyAdd(TOps.Load(xa), TOps.Blend(TOps.Load(wa), zero, phase, C), default);
                TVector s1 = default, s2 = default, s3 = default;
                int i = C, lastStart = (vectors - 1) * C;
                for (; i + 4 * C <= lastStart; i += 4 * C)
                {
                    s0 = TOps.MultiplyAdd(TOps.Load(xa + i), TOps.Load(wa + i), s0);
                    s1 = TOps.MultiplyAdd(TOps.Load(xa + i + C), TOps.Load(wa + i + C), s1);
                    s2 = TOps.MultiplyAdd(TOps.Load(xa + i + 2 * C), TOps.Load(wa + i + 2 * C), s2);
                    s3 = TOps.MultiplyAdd(TOps.Load(xa + i + 3 * C), TOps.Load(wa + i + 3 * C), s3);
                }
                for (; i < lastStart; i += C)
                {
                    s1 = TOps.MultiplyAdd(TOps.Load(xa + i), TOps.Load(wa + i), s1);
                }
                s2 = TOps.MultiplyAdd(TOps.Load(xa + lastStart), TOps.Blend(TOps.Load(wa + lastStart), zero, 0, lastEnd), s2);
                y[n] = TOps.Sum(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3))) + (b == null ? 0f : b[n]);
            }
            return;
        }
        if (M == 1 && K >= 4 * C)
        {
            // One input row: read the weight rows one after another, front to back. Four rows side by side are four
            // short streams (3 KiB for GPT-2's head) that the prefetcher follows worse than one.
            for (; n < n1; n++)
            {
                float* w0 = w + (nint)n * K;
                // A checkpoint maps at any offset: the first floats up to a vector boundary go one by one, so no load
                // splits a cache line (512-bit loads that do stream about a third slower from memory).
                int lead = Math.Min(K, (int)((-(nint)w0 & (C * sizeof(float) - 1)) / sizeof(float)));
                float d0 = 0f;
                int k = 0;
                for (; k < lead; k++)
                {
                    d0 += x0[k] * w0[k];
                }
                TVector s0 = default, s1 = default, s2 = default, s3 = default;
                for (int quadEnd = K - 4 * C; k <= quadEnd; k += 4 * C)
                {
                    s0 = TOps.MultiplyAdd(TOps.Load(x0 + k), TOps.Load(w0 + k), s0);
                    s1 = TOps.MultiplyAdd(TOps.Load(x0 + k + C), TOps.Load(w0 + k + C), s1);
                    s2 = TOps.MultiplyAdd(TOps.Load(x0 + k + 2 * C), TOps.Load(w0 + k + 2 * C), s2);
                    s3 = TOps.MultiplyAdd(TOps.Load(x0 + k + 3 * C), TOps.Load(w0 + k + 3 * C), s3);
                }
                for (; k <= K - C; k += C)
                {
                    s0 = TOps.MultiplyAdd(TOps.Load(x0 + k), TOps.Load(w0 + k), s0);
                }
                d0 += TOps.Sum(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)));
                for (; k < K; k++)
                {
                    d0 += x0[k] * w0[k];
                }
                y[n] = d0 + (b == null ? 0f : b[n]);
            }
            return;
        }
        for (; n + 4 <= n1; n += 4)
        {
            float* w0 = w + (nint)n * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
            TVector s00 = default, s01 = default, s02 = default, s03 = default;
            TVector s10 = default, s11 = default, s12 = default, s13 = default;
            TVector s20 = default, s21 = default, s22 = default, s23 = default;
            TVector s30 = default, s31 = default, s32 = default, s33 = default;
            for (int k = 0; k < vectorEnd; k += C)
            {
                TVector v0 = TOps.Load(w0 + k), v1 = TOps.Load(w1 + k);
                TVector v2 = TOps.Load(w2 + k), v3 = TOps.Load(w3 + k);
                TVector xk = TOps.Load(x0 + k);
                s00 = TOps.MultiplyAdd(xk, v0, s00);
                s01 = TOps.MultiplyAdd(xk, v1, s01);
                s02 = TOps.MultiplyAdd(xk, v2, s02);
                s03 = TOps.MultiplyAdd(xk, v3, s03);
                if (M > 1)
                {
                    xk = TOps.Load(x1 + k);
                    s10 = TOps.MultiplyAdd(xk, v0, s10);
                    s11 = TOps.MultiplyAdd(xk, v1, s11);
                    s12 = TOps.MultiplyAdd(xk, v2, s12);
                    s13 = TOps.MultiplyAdd(xk, v3, s13);
                }
                if (M > 2)
                {
                    xk = TOps.Load(x2 + k);
                    s20 = TOps.MultiplyAdd(xk, v0, s20);
                    s21 = TOps.MultiplyAdd(xk, v1, s21);
                    s22 = TOps.MultiplyAdd(xk, v2, s22);
                    s23 = TOps.MultiplyAdd(xk, v3, s23);
                }
                if (M > 3)
                {
                    xk = TOps.Load(x3 + k);
                    s30 = TOps.MultiplyAdd(xk, v0, s30);
                    s31 = TOps.MultiplyAdd(xk, v1, s31);
                    s32 = TOps.MultiplyAdd(xk, v2, s32);
                    s33 = TOps.MultiplyAdd(xk, v3, s33);
                }
            }
            FinishDots(job, 0, n, vectorEnd, s00, s01, s02, s03);
            if (M > 1)
            {
                FinishDots(job, 1, n, vectorEnd, s10, s11, s12, s13);
            }
            if (M > 2)
            {
                FinishDots(job, 2, n, vectorEnd, s20, s21, s22, s23);
            }
            if (M > 3)
            {
                FinishDots(job, 3, n, vectorEnd, s30, s31, s32, s33);
            }
        }
        for (; n < n1; n++)
        {
            float* w0 = w + (nint)n * K;
            for (int m = 0; m < M; m++)
            {
                float* xm = x + (nint)m * K;
                TVector s0 = default;
                int k = 0;
                for (; k < vectorEnd; k += C)
                {
                    s0 = TOps.MultiplyAdd(TOps.Load(xm + k), TOps.Load(w0 + k), s0);
                }
                float d0 = TOps.Sum(s0);
                for (; k < K; k++)
                {
                    d0 += xm[k] * w0[k];
                }
                y[(nint)m * N + n] = d0 + (b == null ? 0f : b[n]);
            }
        }
    }

    /// <summary>Reduces row m's four dot-product vectors, adds the k tail and the bias, stores y[m, n:n+4].</summary>
    private static void FinishDots(MatMulJob* job, int m, int n, int k0, TVector s0, TVector s1, TVector s2, TVector s3)
    {
        int K = job->InFeatures;
        float* xm = job->Input + (nint)m * K;
        float* w0 = job->Weight + (nint)n * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
        float d0 = TOps.Sum(s0), d1 = TOps.Sum(s1), d2 = TOps.Sum(s2), d3 = TOps.Sum(s3);
        for (int k = k0; k < K; k++)
        {
            d0 += xm[k] * w0[k];
            d1 += xm[k] * w1[k];
            d2 += xm[k] * w2[k];
            d3 += xm[k] * w3[k];
        }
        float* b = job->Bias;
        if (b != null)
        {
            d0 += b[n];
            d1 += b[n + 1];
            d2 += b[n + 2];
            d3 += b[n + 3];
        }
        float* ym = job->Output + (nint)m * job->OutFeatures + n;
        ym[0] = d0;
        ym[1] = d1;
        ym[2] = d2;
        ym[3] = d3;
    }
}

/// <summary>A row count known to the JIT, so the streaming kernels compile one register-blocked copy per count.</summary>
internal interface IRowCount
{
    static abstract int Value { get; }
}

internal readonly struct Rows1 : IRowCount
{
    public static int Value => 1;
}

internal readonly struct Rows2 : IRowCount
{
    public static int Value => 2;
}

internal readonly struct Rows3 : IRowCount
{
    public static int Value => 3;
}

internal readonly struct Rows4 : IRowCount
{
    public static int Value => 4;
}
