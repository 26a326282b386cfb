using System.Runtime.InteropServices;
using Sharpformer.Bench.Harness;
using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Bench;

/// <summary>
/// The "matmul" command: <see cref="MatMul.Forward"/> at GPT-2 124M shapes. Decode rows are compared with the memory
/// read ceiling (the weight must stream from DRAM once per call), prefill rows with the FMA peak.
/// </summary>
public static class MatMulBench
{
    // Each call reads its weight from the next copy in a 1 GiB pool, as in a model whose weights (500 MB for GPT-2
    // 124M) do not stay cached between tokens; otherwise small decode matmuls would be timed from cache. The pool is
    // the size of the bandwidth ceiling's array, so both see the same small share of L3 hits.
    private const int PoolLength = 1 << 28;

    private sealed record Shape(string Name, int Rows, int InFeatures, int OutFeatures, WeightLayout Layout,
        SimdPath? Path = null)
    {
        public bool IsDecode => Rows <= 4;
    }

    private static readonly Shape[] Shapes =
    [
        // decode: one token (or a few beams), GPT-2 Conv1D weights are [in, out]; the tied lm_head is [vocab, hidden]
        new("attn.c_attn", 1, 768, 2304, WeightLayout.InputMajor),
        new("attn.c_proj", 1, 768, 768, WeightLayout.InputMajor),
        new("mlp.c_fc", 1, 768, 3072, WeightLayout.InputMajor),
        new("mlp.c_proj", 1, 3072, 768, WeightLayout.InputMajor),
        new("lm_head", 1, 768, 50257, WeightLayout.OutputMajor),
        new("nn.Linear 768→3072", 1, 768, 3072, WeightLayout.OutputMajor),
        new("mlp.c_fc ×4 rows", 4, 768, 3072, WeightLayout.InputMajor),
        new("nn.Linear ×4 rows", 4, 768, 3072, WeightLayout.OutputMajor),
        new("mlp.c_fc 256-bit", 1, 768, 3072, WeightLayout.InputMajor, SimdPath.Vector256),
        new("lm_head 256-bit", 1, 768, 50257, WeightLayout.OutputMajor, SimdPath.Vector256),
        // small batches, where streaming gives way to the packed kernel
        new("mlp.c_fc ×8 rows", 8, 768, 3072, WeightLayout.InputMajor),
        new("mlp.c_fc ×16 rows", 16, 768, 3072, WeightLayout.InputMajor),
        new("nn.Linear ×16 rows", 16, 768, 3072, WeightLayout.OutputMajor),
        // prefill / training: compute bound
        new("attn.c_attn", 128, 768, 2304, WeightLayout.InputMajor),
        new("mlp.c_fc", 128, 768, 3072, WeightLayout.InputMajor),
        new("mlp.c_proj", 128, 3072, 768, WeightLayout.InputMajor),
        new("attn.c_proj", 512, 768, 768, WeightLayout.InputMajor),
        new("nn.Linear 768→768", 512, 768, 768, WeightLayout.OutputMajor),
        new("nn.Linear 768→3072", 128, 768, 3072, WeightLayout.OutputMajor),
        // the GEMM target shape, 768 × 768 × 3072, and bigger
        new("GEMM 768×768×3072", 768, 768, 3072, WeightLayout.InputMajor),
        new("GEMM 768 out-major", 768, 768, 3072, WeightLayout.OutputMajor),
        new("mlp.c_fc", 1024, 768, 3072, WeightLayout.InputMajor),
        new("mlp.c_proj", 1024, 3072, 768, WeightLayout.InputMajor),
        new("mlp.c_fc 256-bit", 128, 768, 3072, WeightLayout.InputMajor, SimdPath.Vector256),
    ];

    // MatMulBf16 / MatMulInt8 at decode shapes (weights packed [out, in], four rows interleaved), against the read ceiling.
    private static readonly (string Name, int Rows, int InFeatures, int OutFeatures)[] LowPrecisionShapes =
    [
        ("mlp.c_fc", 1, 768, 3072),
        ("mlp.c_proj", 1, 3072, 768),
        ("lm_head", 1, 768, 50257),
        ("mlp.c_fc ×4 rows", 4, 768, 3072),
    ];

    public static void Run(BenchContext context)
    {
        var before = context.Ceilings;
        // On a cache line, as a packed model's weights are (AlignedArray); a mapped checkpoint's kernels align themselves.
        AlignedArray<float>? pool = new(PoolLength);
        pool.Span.Fill(0.001f);
        var results = new List<(Shape Shape, SimdPath Path, Timing Timing, Ceilings Now)>();
        foreach (var shape in Shapes)
        {
            var path = shape.Path ?? SimdPaths.Default;
            if (SimdPaths.Available.Contains(path) && context.Selects($"{shape.Name} {Dimensions(shape)}"))
            {
                // Each row is compared with ceilings measured right after it: other processes come and go.
                results.Add((shape, path, Time(shape, path, pool), Ceilings.Measure(quick: true)));
            }
        }
        var lowPrecision = new List<(string Name, WeightType Type, int Rows, int InFeatures, int OutFeatures, Timing Timing, Ceilings Now)>();
        foreach (var (name, rows, inFeatures, outFeatures) in LowPrecisionShapes)
        {
            foreach (var type in new[] { WeightType.Float32Packed, WeightType.BFloat16, WeightType.Int8 })
            {
                if (context.Selects($"{type.Name()} {name} {rows}×{inFeatures}→{outFeatures}"))
                {
                    lowPrecision.Add((name, type, rows, inFeatures, outFeatures, TimeLowPrecision(type, rows, inFeatures, outFeatures, pool),
                        Ceilings.Measure(quick: true)));
                }
            }
        }
        var chains = new List<(string Name, double Bytes, Timing Timing, Ceilings Now)>();
        foreach (var (name, type, layout) in ChainTypes)
        {
            if (context.Selects(name))
            {
                var (bytes, timing) = TimeChain(type, layout, pool);
                chains.Add((name, bytes, timing, Ceilings.Measure(quick: true)));
            }
        }
        pool = null;
        GC.Collect();
        var ceilings = context.RefreshCeilings();

        var table = new Table("shape", "layout", "path", "rows×in→out", "µs best", "µs median", "GFLOP/s", "GB/s",
            "ceiling now", "of it");
        foreach (var (shape, path, timing, now) in results)
        {
            double flops = 2.0 * shape.Rows * shape.InFeatures * shape.OutFeatures;
            double bytes = 4.0 * ((double)shape.InFeatures * shape.OutFeatures + shape.OutFeatures
                + (double)shape.Rows * (shape.InFeatures + shape.OutFeatures));
            double gflops = flops / timing.Best / 1e9, gbps = bytes / timing.Best / 1e9;
            string ceiling = shape.IsDecode ? $"{now.ReadGBps:F1} GB/s" : $"{now.FmaGflops:F0} GFLOP/s";
            string ratio = shape.IsDecode ? $"{gbps / now.ReadGBps:P0}" : $"{gflops / now.FmaGflops:P0}";
            table.Add(shape.Name, shape.Layout == WeightLayout.InputMajor ? "in-major" : "out-major", PathName(path),
                Dimensions(shape), timing.Best * 1e6, timing.Median * 1e6, gflops, gbps, ceiling, ratio);
        }
        Console.WriteLine($"Decode rows (≤ 4) compare GB/s with the read ceiling, the others GFLOP/s with the FMA peak, " +
            "each measured (quickly) right after the row; weights rotate through 1 GiB so decode reads memory, not cache. " +
            $"Run ceilings: read {ceilings.ReadGBps:F1} GB/s, FMA {ceilings.FmaGflops:F0} GFLOP/s (best of before, " +
            $"{before.ReadGBps:F1} and {before.FmaGflops:F0}, and after).");
        table.Print();
        if (lowPrecision.Count > 0)
        {
            Console.WriteLine();
            var low = new Table("f32-packed / bf16 / int8 weights", "dtype", "rows×in→out", "µs best", "µs median", "GB/s", "ceiling now", "of it");
            foreach (var (name, type, rows, inFeatures, outFeatures, timing, now) in lowPrecision)
            {
                double bytes = (double)inFeatures * outFeatures * BytesPerWeight(type);
                double gbps = bytes / timing.Best / 1e9;
                low.Add(name, type.Name(), $"{rows}×{inFeatures}→{outFeatures}", timing.Best * 1e6, timing.Median * 1e6, gbps,
                    $"{now.ReadGBps:F1} GB/s", $"{gbps / now.ReadGBps:P0}");
            }
            low.Print();
        }
        if (chains.Count > 0)
        {
            // A decode step's matmuls alone: what the weights stream at when nothing else runs between them. The
            // model's decode row (gpt2) adds norms, attention and the hand-offs to this.
            Console.WriteLine();
            var chainTable = new Table("decode chain: one token's 48 block GEMVs + lm_head", "ms best", "ms median", "GB/s median", "ceiling now", "of it");
            foreach (var (name, bytes, timing, now) in chains)
            {
                double gbps = bytes / timing.Median / 1e9;
                chainTable.Add(name, timing.Best * 1e3, timing.Median * 1e3, gbps, $"{now.ReadGBps:F1} GB/s", $"{gbps / now.ReadGBps:P0}");
            }
            chainTable.Print();
        }
        Console.WriteLine();
        PrintDispatchOverhead();
    }

    private static int BytesPerWeight(WeightType type) => type switch
    {
        WeightType.Int8 => 1,
        WeightType.BFloat16 => 2,
        _ => 4,
    };

    private static string Dimensions(Shape shape) => $"{shape.Rows}×{shape.InFeatures}→{shape.OutFeatures}";

    private static Timing Time(Shape shape, SimdPath path, AlignedArray<float> pool)
    {
        int weightLength = shape.InFeatures * shape.OutFeatures;
        int copies = Math.Max(1, pool.Length / weightLength);
        var input = new float[shape.Rows * shape.InFeatures];
        var bias = new float[shape.OutFeatures];
        var output = new float[shape.Rows * shape.OutFeatures];
        input.AsSpan().Fill(0.5f);
        int next = 0;
        return Measure.Time(() =>
        {
            ReadOnlySpan<float> weight = pool.Span.Slice(next * weightLength, weightLength);
            MatMul.Forward(input, weight, bias, shape.Rows, shape.InFeatures, shape.OutFeatures, shape.Layout, output, path);
            next = next + 1 == copies ? 0 : next + 1;
        });
    }

    private static Timing TimeLowPrecision(WeightType type, int rows, int inFeatures, int outFeatures, AlignedArray<float> pool)
    {
        int weightLength = inFeatures * outFeatures;
        var bytes = MemoryMarshal.AsBytes(pool.Span);
        int copies = Math.Max(1, bytes.Length / (weightLength * BytesPerWeight(type)));
        var input = new float[rows * inFeatures];
        var scales = new float[outFeatures];
        var bias = new float[outFeatures];
        var output = new float[rows * outFeatures];
        input.AsSpan().Fill(0.5f);
        scales.AsSpan().Fill(0.01f);
        int next = 0;
        return Measure.Time(() =>
        {
            if (type == WeightType.Int8)
            {
                var weight = MemoryMarshal.Cast<float, sbyte>(pool.Span).Slice(next * weightLength, weightLength);
                MatMulInt8.Forward(input, weight, scales, bias, rows, inFeatures, outFeatures, output);
            }
            else if (type == WeightType.Float32Packed)
            {
                MatMulF32Packed.Forward(input, pool.Span.Slice(next * weightLength, weightLength), bias, rows, inFeatures, outFeatures, output);
            }
            else
            {
                var weight = MemoryMarshal.Cast<float, ushort>(pool.Span).Slice(next * weightLength, weightLength);
                MatMulBf16.Forward(input, weight, bias, rows, inFeatures, outFeatures, output);
            }
            next = next + 1 == copies ? 0 : next + 1;
        });
    }

    // GPT-2 124M's decode matmuls: f32 as mapped (Conv1D [in, out], lm_head [out, in]) and the packed types.
    private static readonly (string Name, WeightType Type, WeightLayout Layout)[] ChainTypes =
    [
        ("chain f32 (mapped layout)", WeightType.Float32, WeightLayout.InputMajor),
        ("chain f32-packed", WeightType.Float32Packed, WeightLayout.OutputMajor),
        ("chain bf16", WeightType.BFloat16, WeightLayout.OutputMajor),
        ("chain int8", WeightType.Int8, WeightLayout.OutputMajor),
    ];

    /// <summary>One token's matmuls back to back, each weight at its own place in the pool (about 500 MB for f32).</summary>
    private static (double Bytes, Timing Timing) TimeChain(WeightType type, WeightLayout blockLayout, AlignedArray<float> pool)
    {
        var shapes = new List<(int InFeatures, int OutFeatures, WeightLayout Layout)>();
        for (int layer = 0; layer < 12; layer++)
        {
            shapes.Add((768, 2304, blockLayout));
            shapes.Add((768, 768, blockLayout));
            shapes.Add((768, 3072, blockLayout));
            shapes.Add((3072, 768, blockLayout));
        }
        shapes.Add((768, 50257, WeightLayout.OutputMajor));
        int bytesPerWeight = BytesPerWeight(type);
        var offsets = new long[shapes.Count]; // in bytes, each on a cache line
        long next = 0;
        for (int i = 0; i < shapes.Count; i++)
        {
            offsets[i] = next;
            next += ((long)shapes[i].InFeatures * shapes[i].OutFeatures * bytesPerWeight + 63) / 64 * 64;
        }
        var input = new float[3072];
        input.AsSpan().Fill(0.5f);
        var output = new float[50257];
        var scales = new float[50257];
        scales.AsSpan().Fill(0.01f);
        var timing = Measure.Time(() =>
        {
            var bytes = MemoryMarshal.AsBytes(pool.Span);
            for (int i = 0; i < shapes.Count; i++)
            {
                var (k, n, layout) = shapes[i];
                var weightBytes = bytes.Slice((int)offsets[i], k * n * bytesPerWeight);
                var x = input.AsSpan(0, k);
                var y = output.AsSpan(0, n);
                switch (type)
                {
                    case WeightType.Float32:
                        MatMul.Forward(x, MemoryMarshal.Cast<byte, float>(weightBytes), [], 1, k, n, layout, y);
                        break;
                    case WeightType.Float32Packed:
                        MatMulF32Packed.Forward(x, MemoryMarshal.Cast<byte, float>(weightBytes), [], 1, k, n, y);
                        break;
                    case WeightType.BFloat16:
                        MatMulBf16.Forward(x, MemoryMarshal.Cast<byte, ushort>(weightBytes), [], 1, k, n, y);
                        break;
                    default:
                        MatMulInt8.Forward(x, MemoryMarshal.Cast<byte, sbyte>(weightBytes), scales.AsSpan(0, n), [], 1, k, n, y);
                        break;
                }
            }
        }, samples: 15, sampleSeconds: 0.05);
        return (next, timing);
    }

    private static unsafe void PrintDispatchOverhead()
    {
        var table = new Table("hand-off of 2 empty tasks", "µs best", "µs median");
        var kernelThreads = Measure.Time(() => KernelThreads.Run(&Nothing, null, 2), sampleSeconds: 0.01);
        var parallelFor = Measure.Time(() => Parallel.For(0, 2, static _ => { }), sampleSeconds: 0.01);
        table.Add("KernelThreads.Run (spinning worker)", kernelThreads.Best * 1e6, kernelThreads.Median * 1e6);
        table.Add("Parallel.For", parallelFor.Best * 1e6, parallelFor.Median * 1e6);
        table.Print();
    }

    private static unsafe void Nothing(void* context, int task)
    {
    }

    private static string PathName(SimdPath path) => path switch
    {
        SimdPath.Vector512 => "512",
        SimdPath.Vector256 => "256",
        SimdPath.Vector128 => "128",
        _ => "scalar",
    };
}
