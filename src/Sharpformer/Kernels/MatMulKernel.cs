using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>One matmul call: pointers into the caller's pinned spans and the shape. Lives on the caller's stack.</summary>
internal unsafe struct MatMulJob
{
    public float* Input;   // [rows, inFeatures]
    public float* Weight;  // [inFeatures, outFeatures] or [outFeatures, inFeatures]
    public float* Bias;    // [outFeatures] or null
    public float* Output;  // [rows, outFeatures]
    public int Rows, InFeatures, OutFeatures;
    public WeightLayout Layout;

    // How the call is split into tasks: task t covers column block t % ColumnBlocks and row block t / ColumnBlocks, in
    // k-blocks of BlockK; or, streaming an InputMajor weight, a k-range adding into Partials[t - 1]: BlockK long for
    // t < BigTasks, SmallK long after (streaming an OutputMajor weight, BlockColumns then SmallK rows).
    public int BlockColumns, ColumnBlocks, BlockRows, BlockK, BigTasks, SmallK;
    public float* Partials;

    // Streaming, when every weight row starts at the same offset within a vector (the phase, in floats): the
    // kernels read whole aligned vectors from there, and keep what they add into (InputMajor: the per-task partial
    // sums, PartialStride apart) or dot with (OutputMajor: PhasedInput, a copy of the one input row) at the same
    // phase, with the lanes outside a row masked. -1 when rows start at different phases.
    public int Phase, PartialStride;
    public float* PhasedInput;
}

/// <summary>
/// The matmul kernels, written once over a vector width: <typeparamref name="TVector"/> holds C floats and
/// <typeparamref name="TOps"/> operates on it. Legend inside loops: M rows, K inFeatures, N outFeatures; x input,
/// w weight, y output.
/// <list type="bullet">
/// <item>Decode (rows ≤ <see cref="StreamMaxRows"/>) is bound by reading the weight once from memory, so it streams
/// it: InputMajor threads each take a contiguous range of weight rows (k) and add C-wide slices of four rows at a
/// time into output rows kept in L1 (one input row: 16 or 8 vectors of columns at a time in registers, two rows at a
/// time from the two halves of the range), then the per-task partial sums are added; OutputMajor threads take ranges
/// of weight rows (outputs) and compute dot products with four of them at a time (one input row: one after another).
/// One register-blocked copy per row count (1 to 4), so every weight vector is loaded once. Vector loads start on
/// vector boundaries wherever the weight lies (see RowPhase). Tasks are guided: one big block per thread, then small
/// ones for whoever is free first.</item>
/// <item>Prefill/training is bound by FMA throughput. BLIS-style: a task (a block of output columns, and of rows when
/// there are many) packs one KC×NR weight panel at a time (NR = 2C columns, k outermost; OutputMajor is transposed in
/// 16×16 register blocks) which stays in L2, and runs an MR×NR micro-kernel (MR = 8 with AVX-512's 32 registers,
/// else 6) over every MR-row sliver of the input, read in place and broadcast; whole tiles go from the accumulators
/// straight into the output. While a panel is in use, the next panel's weights are prefetched into L2. Edge tiles
/// compute into a scratch tile, so any shape works.</item>
/// </list>
/// </summary>
internal static unsafe partial class MatMulKernel<TOps, TVector> where TOps : struct, IVectorOps<TVector> where TVector : unmanaged
{
    /// <summary>Up to this many rows the weight is streamed once; beyond, packing pays for itself.</summary>
    public const int StreamMaxRows = 4;

    /// <summary>Below this many multiply-adds a call runs on one thread (handing off costs about a microsecond).</summary>
    public const long MinParallelWork = 1 << 16;

    // Micro-tile rows: 8 (16 accumulators) where there are 32 vector registers (AVX-512), else 6 (12 of 16 AVX2 ones).
    private static int MR => TOps.Count >= 16 ? 8 : 6;
    // k-block, at most: a KC×NR panel (96 KiB at 512 bits) is read from L2, and every output tile is written back once
    // per k-block. Measured on Zen 5 against 256 (a panel that stays in L1, but three write-backs at K = 768): 4–10%
    // faster on every prefill shape, the tile write-back costing more than the panel reads from L2.
    private const int KC = 768;
    // Rows per task, at most: each weight panel is packed once per row block, so fewer blocks pack less (+4% at
    // 768×768×3072 against 384), while the input sliver a micro-kernel reads (8 × KC) streams from L2 or L3 either way.
    private const int MaxBlockRows = 768;
    private const int MaxBlockColumns = 512; // columns per task, at most (before rounding to the thread count)

    private static int C => TOps.Count;

    private static int NR => 2 * TOps.Count;

    public static void Run(MatMulJob* job)
    {
        int threads = (long)job->Rows * job->InFeatures * job->OutFeatures < MinParallelWork ? 1 : KernelThreads.Count;
        if (job->Rows <= StreamMaxRows && job->Layout == WeightLayout.InputMajor)
        {
            // Tasks split k, so each reads one contiguous stretch of the weight (the fastest way to stream it; a
            // split by columns reads short runs of every row), then the partial sums are added up.
            int tasks = Math.Max(1, Math.Min(threads == 1 ? 1 : 2 * threads, job->InFeatures / 16));
            job->BlockK = RoundUp(DivideUp(job->InFeatures, tasks), 4);
            tasks = DivideUp(job->InFeatures, job->BlockK);
            job->BigTasks = tasks;
            job->SmallK = 0;
            if (threads > 1 && job->InFeatures >= 64 * threads)
            {
                // Guided: one stretch per thread of 80% of k, then small ones (two per thread) for whoever is free
                // first, so the call ends within a small stretch of both threads finishing (equal stretches left the
                // caller waiting on the slower stream; GPT-2 f32 decode ran 2–7% faster this way).
                job->BlockK = (int)(0.8 * job->InFeatures / threads) / 4 * 4;
                job->BigTasks = threads;
                int rest = job->InFeatures - threads * job->BlockK;
                job->SmallK = Math.Max(4, RoundUp(DivideUp(rest, 2 * threads), 4));
                tasks = threads + DivideUp(rest, job->SmallK);
            }
            int length = job->Rows * job->OutFeatures;
            job->Phase = RowPhase(job->Weight, job->OutFeatures);
            var output = new Span<float>(job->Output, length);
            if (job->Phase >= 0)
            {
                // Every task adds into its own partial sums at the weight's phase (the output starts at any phase), a
                // vector of slack on each side for the masked edge vectors; then they are summed into the output.
                job->PartialStride = RoundUp(length, C) + 2 * C;
                job->Partials = MatMulBuffers.Partials(tasks * job->PartialStride + C) + C + job->Phase;
                KernelThreads.Run(&StreamInputMajorTask, job, tasks);
                var first = new ReadOnlySpan<float>(job->Partials, length);
                if (tasks == 1)
                {
                    first.CopyTo(output);
                }
                else
                {
                    TensorPrimitives.Add(first, new ReadOnlySpan<float>(job->Partials + job->PartialStride, length), output);
                }
                for (int task = 2; task < tasks; task++)
                {
                    TensorPrimitives.Add(output, new ReadOnlySpan<float>(job->Partials + (nint)task * job->PartialStride, length), output);
                }
            }
            else
            {
                job->Partials = tasks > 1 ? MatMulBuffers.Partials((tasks - 1) * length) : null;
                KernelThreads.Run(&StreamInputMajorTask, job, tasks);
                for (int task = 1; task < tasks; task++)
                {
                    TensorPrimitives.Add(output, new ReadOnlySpan<float>(job->Partials + (nint)(task - 1) * length, length), output);
                }
            }
        }
        else if (job->Rows <= StreamMaxRows)
        {
            // Threads split the weight rows (outputs).
            int columns = RoundUp(DivideUp(job->OutFeatures, threads), 16);
            job->BlockColumns = columns;
            job->ColumnBlocks = DivideUp(job->OutFeatures, columns);
            job->BigTasks = job->ColumnBlocks;
            job->SmallK = 0;
            if (threads > 1 && job->OutFeatures >= 64 * threads)
            {
                // Guided: one block per thread of 80% of the rows, then blocks of about 128 KiB for whoever is free
                // first, so both threads finish within a few microseconds of each other, however another process slows
                // one of them (an lm_head in 4 equal tasks a thread left one thread idle for up to 0.8 ms a token).
                job->BlockColumns = (int)(0.8 * job->OutFeatures / threads) / 16 * 16;
                job->BigTasks = threads;
                int rest = job->OutFeatures - threads * job->BlockColumns;
                job->SmallK = SmallBlockRows(job->InFeatures);
                job->ColumnBlocks = threads + DivideUp(rest, job->SmallK);
            }
            job->Phase = job->Rows == 1 && job->InFeatures >= 4 * C ? RowPhase(job->Weight, job->InFeatures) : -1;
            if (job->Phase >= 0)
            {
                // The input row copied to the weight rows' phase, zeros around it, so its loads line up with theirs.
                int length = job->InFeatures + 3 * C;
                float* phased = MatMulBuffers.Input(length);
                new Span<float>(phased, length).Clear();
                job->PhasedInput = phased + C + job->Phase;
                new ReadOnlySpan<float>(job->Input, job->InFeatures).CopyTo(new Span<float>(job->PhasedInput, job->InFeatures));
            }
            KernelThreads.Run(&StreamOutputMajorTask, job, job->ColumnBlocks);
        }
        else
        {
            // Tasks: column blocks, at least two per thread (a thread slowed by another process then holds up less) and
            // a multiple of the thread count, so equal threads finish together; split by rows too when the rows of a
            // block would not stay in L2, or when there are fewer blocks than threads.
            int panels = DivideUp(job->OutFeatures, NR);
            int blocks = Math.Min(panels, RoundUp(Math.Max(2 * threads, DivideUp(panels, MaxBlockColumns / NR)), threads));
            int blockPanels = DivideUp(panels, blocks);
            job->BlockColumns = blockPanels * NR;
            job->ColumnBlocks = DivideUp(panels, blockPanels);
            int rowBlocks = Math.Max(DivideUp(job->Rows, MaxBlockRows), DivideUp(threads, job->ColumnBlocks));
            rowBlocks = Math.Min(rowBlocks, DivideUp(job->Rows, MR));
            job->BlockRows = RoundUp(DivideUp(job->Rows, rowBlocks), MR);
            rowBlocks = DivideUp(job->Rows, job->BlockRows);
            // The calling thread runs tasks too (all of them when the team is busy): its packing scratch is made on its
            // first call, never in the middle of a warm decode loop.
            // k-blocks of equal size (a multiple of 16), so K = 1,024 runs as 2 × 512 rather than 768 + 256.
            job->BlockK = Math.Min(RoundUp(DivideUp(job->InFeatures, DivideUp(job->InFeatures, KC)), 16), job->InFeatures);
            MatMulBuffers.Packed(job->BlockK * NR);
            KernelThreads.Run(&PackedTask, job, job->ColumnBlocks * rowBlocks);
        }
    }

    /// <summary>
    /// Where in a vector (in floats) every row of a weight with rows of <paramref name="rowLength"/> starts, or -1 when
    /// rows start at different places (a length that is not a whole number of vectors) or the weight is not even
    /// float-aligned. A mapped checkpoint puts a weight at any offset, and a 512-bit load that splits a cache line
    /// streams up to a third slower, so the streaming kernels read from the vector boundary before each row instead.
    /// </summary>
    private static int RowPhase(float* weight, int rowLength) =>
        C == 1 || rowLength % C != 0 || ((nint)weight & (sizeof(float) - 1)) != 0
            ? -1 : (int)(((nint)weight & (C * sizeof(float) - 1)) / sizeof(float));

    /// <summary>Weight rows of <paramref name="rowLength"/> floats in a small task: about 128 KiB, a multiple of 16.</summary>
    internal static int SmallBlockRows(int rowLength) => RoundUp(Math.Max(1, (128 << 10) / (rowLength * sizeof(float))), 16);

    private static int DivideUp(int value, int divisor) => (value + divisor - 1) / divisor;

    private static int RoundUp(int value, int multiple) => DivideUp(value, multiple) * multiple;
}
