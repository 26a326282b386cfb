using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Sharpformer.Kernels;

namespace Sharpformer.Bench.Harness;

/// <summary>
/// The machine's ceilings, measured in the same run as the benchmarks that are compared with them (the machines are
/// shared and noisy, so a figure from another day means little): memory read bandwidth bounds decode, which streams
/// every weight once per token; fp32 FMA peak bounds prefill and training. Both use every kernel thread, through the
/// same <see cref="KernelThreads"/> team the kernels use, and are the best of several samples.
/// </summary>
/// <param name="ReadGBps">GB/s (10⁹ bytes) summing a 1 GiB float array with the widest vectors, best of 1, 2 and 4
/// concurrent streams per thread (Zen 5: about 45 GB/s with one stream a core, 52 with two).</param>
/// <param name="FmaGflops">GFLOP/s (an FMA is 2 flops) of independent vector FMA chains.</param>
/// <param name="Threads">Threads used for both.</param>
/// <param name="OnePassGBps">GB/s of the same sum as one plain pass, each thread reading its half front to back (one
/// stream a thread): the "read-only pass over a buffer", which a decode step's matmuls, each one weight read
/// once, compare with most directly. At most <paramref name="ReadGBps"/>.</param>
public sealed record Ceilings(double ReadGBps, double FmaGflops, int Threads, double OnePassGBps)
{
    private const long ReadBytes = 1L << 30;
    private static readonly int[] ReadStreams = [1, 2, 4];
    private const int FmaChains = 16;      // > latency × FMA ports (4 × 2), so chains never wait on each other
    private const int FmaIterations = 2_000_000;

    // The 1 GiB array lives for the process once measured, so quick re-measurements between rows cost no page faults.
    private static float[]? _array;
    private static unsafe float* _start;

    /// <summary>Bytes the bandwidth buffer holds resident once measured (for subtracting from a process's RSS).</summary>
    public static long BufferBytes => _array is null ? 0 : (long)_array.Length * sizeof(float);

    /// <summary>
    /// Measures both ceilings: about three seconds, or under a second when <paramref name="quick"/> (fewer samples,
    /// no warm-up beyond the first call; for re-measuring next to each benchmark row).
    /// </summary>
    public static unsafe Ceilings Measure(bool quick = false)
    {
        int threads = KernelThreads.Count;
        int samples = quick ? 5 : 7;
        double warmup = quick ? 0 : 0.4;
        var job = ReadJob();
        nint context = (nint)(&job); // the lambdas below cannot capture a stack address directly
        double readSeconds = double.MaxValue, onePassSeconds = double.MaxValue;
        foreach (int streams in ReadStreams)
        {
            job.Streams = streams;
            double seconds = Harness.Measure.Time(
                () => KernelThreads.Run(&Read, (void*)context, threads), samples, warmupSeconds: warmup).Best;
            readSeconds = Math.Min(readSeconds, seconds);
            if (streams == 1)
            {
                onePassSeconds = seconds;
            }
        }
        double fmaSeconds = Harness.Measure.Time(
            () => KernelThreads.Run(&Fma, (void*)context, threads), samples, warmupSeconds: warmup).Best;
        double flops = 2.0 * threads * FmaIterations * FmaChains * VectorCount;
        return new Ceilings(ReadBytes / readSeconds / 1e9, flops / fmaSeconds / 1e9, threads, ReadBytes / onePassSeconds / 1e9);
    }

    /// <summary>
    /// One quick sample of both read ceilings (two passes of 1, 2 and 4 streams a thread each, about 120 ms), for taking
    /// between a benchmark's own timed runs, so row and ceiling see the same moments of a shared machine's memory.
    /// </summary>
    public static unsafe (double ReadGBps, double OnePassGBps) SampleRead()
    {
        int threads = KernelThreads.Count;
        var job = ReadJob();
        // Two passes a stream count, the better kept: the first pass after a benchmark's own work reads up to a
        // third slower (measured right after GPT-2 decode runs), which would understate the ceiling.
        double best = double.MaxValue, onePass = double.MaxValue;
        foreach (int streams in ReadStreams)
        {
            job.Streams = streams;
            for (int pass = 0; pass < 2; pass++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                KernelThreads.Run(&Read, &job, threads);
                double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                best = Math.Min(best, seconds);
                if (streams == 1)
                {
                    onePass = Math.Min(onePass, seconds);
                }
            }
        }
        return (ReadBytes / best / 1e9, ReadBytes / onePass / 1e9);
    }

    /// <summary>
    /// A job over the 1 GiB array, made (pinned, so its address never changes) and every page faulted in on first use,
    /// starting at its first cache-line boundary: 512-bit loads that split cache lines stream up to a third slower,
    /// which would understate the ceiling.
    /// </summary>
    private static unsafe Job ReadJob()
    {
        int threads = KernelThreads.Count;
        if (_array == null)
        {
            _array = GC.AllocateUninitializedArray<float>((int)(ReadBytes / sizeof(float)), pinned: true);
            float* data = (float*)Unsafe.AsPointer(ref _array[0]);
            _start = data + (-(nint)data & 63) / sizeof(float);
            var fill = new Job { Data = _start, Length = _array.Length - 16, Tasks = threads };
            KernelThreads.Run(&Fill, &fill, threads);
        }
        return new Job { Data = _start, Length = _array.Length - 16, Tasks = threads };
    }

    /// <summary>The medians of <see cref="SampleRead"/> samples, with <paramref name="fmaGflops"/> for the FMA peak.</summary>
    public static Ceilings FromReadSamples(IReadOnlyList<(double ReadGBps, double OnePassGBps)> samples, double fmaGflops)
    {
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted[sorted.Length / 2];
        }
        return new Ceilings(Median(samples.Select(sample => sample.ReadGBps)), fmaGflops, KernelThreads.Count,
            Median(samples.Select(sample => sample.OnePassGBps)));
    }

    public void Print()
    {
        var table = new Table("ceiling", "value", "unit", "how");
        table.Add("memory read", ReadGBps, "GB/s", $"sum a 1 GiB float array, {Threads} threads, {VectorCount * 32}-bit vectors, best of 1, 2, 4 streams a thread");
        table.Add("memory read, one pass", OnePassGBps, "GB/s", "the same, one stream a thread (each thread's half front to back)");
        table.Add("fp32 FMA peak", FmaGflops, "GFLOP/s", $"{FmaChains} independent FMA chains per thread, {Threads} threads");
        table.Print();
    }

    private static int VectorCount => Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;

    private unsafe struct Job
    {
        public float* Data;
        public long Length;
        public int Tasks;
        public int Streams;
        public fixed float Sink[64]; // keeps results alive so the JIT cannot drop the loops
    }

    private static unsafe (long Start, long End) Range(Job* job, int task) =>
        (job->Length * task / job->Tasks / 16 * 16, job->Length * (task + 1) / job->Tasks / 16 * 16);

    private static unsafe void Fill(void* context, int task)
    {
        var job = (Job*)context;
        var (start, end) = Range(job, task);
        new Span<float>(job->Data + start, (int)(end - start)).Fill(1f);
    }

    private static unsafe void Read(void* context, int task)
    {
        var job = (Job*)context;
        var (start, end) = Range(job, task);
        float* p = job->Data;
        // Several streams per thread, as a matmul reads several weight rows at once: one stream per core leaves
        // bandwidth unused (too few misses in flight for the prefetchers).
        int streams = job->Streams;
        long part = (end - start) / streams / 64 * 64;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (long i = 0; i < part; i += 64)
            {
                for (int s = 0; s < streams; s++)
                {
                    float* q = p + start + s * part + i;
                    s0 += Vector512.Load(q);
                    s1 += Vector512.Load(q + 16);
                    s2 += Vector512.Load(q + 32);
                    s3 += Vector512.Load(q + 48);
                }
            }
            job->Sink[task % 64] = Vector512.Sum(s0 + s1 + s2 + s3);
        }
        else
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (long i = 0; i < part; i += 32)
            {
                for (int s = 0; s < streams; s++)
                {
                    float* q = p + start + s * part + i;
                    s0 += Vector256.Load(q);
                    s1 += Vector256.Load(q + 8);
                    s2 += Vector256.Load(q + 16);
                    s3 += Vector256.Load(q + 24);
                }
            }
            job->Sink[task % 64] = Vector256.Sum(s0 + s1 + s2 + s3);
        }
    }

    private static unsafe void Fma(void* context, int task)
    {
        var job = (Job*)context;
        job->Sink[task % 64] = Vector512.IsHardwareAccelerated ? FmaChains512(job->Sink[63]) : FmaChains256(job->Sink[63]);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float FmaChains512(float seed)
    {
        var m = Vector512.Create(0.999999f);
        var a = Vector512.Create(seed * 1e-9f);
        Vector512<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m;
        Vector512<float> c8 = m, c9 = m, c10 = m, c11 = m, c12 = m, c13 = m, c14 = m, c15 = m;
        for (int i = 0; i < FmaIterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a);
            c1 = Vector512.FusedMultiplyAdd(c1, m, a);
            c2 = Vector512.FusedMultiplyAdd(c2, m, a);
            c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a);
            c5 = Vector512.FusedMultiplyAdd(c5, m, a);
            c6 = Vector512.FusedMultiplyAdd(c6, m, a);
            c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a);
            c9 = Vector512.FusedMultiplyAdd(c9, m, a);
            c10 = Vector512.FusedMultiplyAdd(c10, m, a);
            c11 = Vector512.FusedMultiplyAdd(c11, m, a);
            c12 = Vector512.FusedMultiplyAdd(c12, m, a);
            c13 = Vector512.FusedMultiplyAdd(c13, m, a);
            c14 = Vector512.FusedMultiplyAdd(c14, m, a);
            c15 = Vector512.FusedMultiplyAdd(c15, m, a);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float FmaChains256(float seed)
    {
        var m = Vector256.Create(0.999999f);
        var a = Vector256.Create(seed * 1e-9f);
        Vector256<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m;
        Vector256<float> c8 = m, c9 = m, c10 = m, c11 = m, c12 = m, c13 = m, c14 = m, c15 = m;
        for (int i = 0; i < FmaIterations; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, m, a);
            c1 = Vector256.FusedMultiplyAdd(c1, m, a);
            c2 = Vector256.FusedMultiplyAdd(c2, m, a);
            c3 = Vector256.FusedMultiplyAdd(c3, m, a);
            c4 = Vector256.FusedMultiplyAdd(c4, m, a);
            c5 = Vector256.FusedMultiplyAdd(c5, m, a);
            c6 = Vector256.FusedMultiplyAdd(c6, m, a);
            c7 = Vector256.FusedMultiplyAdd(c7, m, a);
            c8 = Vector256.FusedMultiplyAdd(c8, m, a);
            c9 = Vector256.FusedMultiplyAdd(c9, m, a);
            c10 = Vector256.FusedMultiplyAdd(c10, m, a);
            c11 = Vector256.FusedMultiplyAdd(c11, m, a);
            c12 = Vector256.FusedMultiplyAdd(c12, m, a);
            c13 = Vector256.FusedMultiplyAdd(c13, m, a);
            c14 = Vector256.FusedMultiplyAdd(c14, m, a);
            c15 = Vector256.FusedMultiplyAdd(c15, m, a);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15);
    }
}

/// <summary>The "ceilings" command: prints <see cref="Ceilings"/>.</summary>
public static class CeilingsBench
{
    public static void Run(BenchContext context) => context.Ceilings.Print();
}
