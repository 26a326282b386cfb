using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Sharpformer.Bench.Harness;
using Sharpformer.Kernels;
using Sharpformer.Models;

namespace Sharpformer.Bench;

/// <summary>
/// GPT-2 124M-shaped (random weights) decode and prefill throughput, as ratios of the machine's ceilings: f32 decode at
/// batch 1 and 8 with the cache and once without it, prefill 128 and 512, then bf16 and int8 weights.
/// </summary>
internal static class ModelBench
{
    private const int Steps = 64;

    private enum Bound
    {
        Bandwidth,
        Fma,
    }

    // Throughput from the median run (what the issue's table asks for); BestTokensPerSecond from the fastest.
    private sealed record Row(string Name, double TokensPerSecond, double BestTokensPerSecond, Bound Bound, double BytesPerToken, double FlopsPerToken)
    {
        // Ceilings measured (quickly) right after the row: the machine's bandwidth moves by ±20% within minutes
        // (other tenants), so a row is compared with the machine as it was then, as MatMulBench does.
        public Ceilings? Now { get; init; }
    }

    public static void Run(BenchContext context)
    {
        var output = Console.Out;
        const string size = "gpt2";
        var config = Gpt2Config.Named[size];
        // Embedding rows are gathered, not streamed: a decode step reads the blocks, the final norm and the head once.
        double streamedParameters = config.ParameterCount - (double)config.MaxPositions * config.HiddenSize;
        // Matmul work per prefill token: 2 FLOP per block weight; the head runs for the last position only.
        double flopsPerToken = 2.0 * (config.ParameterCount - (double)(config.VocabSize + config.MaxPositions) * config.HiddenSize);
        var rows = new List<Row>();
        var residentMegabytes = new List<string>();
        foreach (var weightType in new[] { WeightType.Float32, WeightType.Float32Packed, WeightType.BFloat16, WeightType.Int8 })
        {
            // One method per model: when it returns, nothing (not even an unoptimized stack slot) holds the model,
            // so the next one's RSS is its own.
            RunWeightType(context, weightType, config, streamedParameters, flopsPerToken, rows, residentMegabytes);
        }

        // Ceilings measured around the rows (best seen), since the machine is shared.
        var ceilings = context.RefreshCeilings();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ceilings: read {ceilings.ReadGBps:0.0} GB/s, one pass {ceilings.OnePassGBps:0.0} GB/s (decode limit: f32 {ceilings.ReadGBps * 1e9 / (streamedParameters * 4):0} tok/s, bf16 {ceilings.ReadGBps * 1e9 / (streamedParameters * 2):0}, int8 {ceilings.ReadGBps * 1e9 / streamedParameters:0}), fp32 FMA peak {ceilings.FmaGflops:0} GFLOP/s"));
        // Bandwidth rows are compared with both read ceilings, each the median of samples taken between the row's timed
        // runs: the best of 1, 2 and 4 streams a thread ("ceiling"), and one plain pass ("one pass", one stream a thread).
        output.WriteLine("Decode rows: median tok/s and GB/s against the median of read-ceiling samples taken between their timed runs " +
            "(\"ceiling\": best of 1, 2, 4 streams a thread; \"one pass\": one stream a thread); prefill and no-cache rows against the FMA peak.");
        var table = new Table("row", "tok/s (median)", "best", "achieved", "ceiling", "ratio", "one pass", "ratio");
        foreach (var row in rows)
        {
            // The ceiling measured right after the row (the no-cache row has none: against the run's).
            double read = row.Now?.ReadGBps ?? ceilings.ReadGBps, peak = row.Now?.FmaGflops ?? ceilings.FmaGflops;
            double onePass = row.Now?.OnePassGBps ?? ceilings.OnePassGBps;
            if (row.Bound == Bound.Bandwidth)
            {
                double gigabytesPerSecond = row.TokensPerSecond * row.BytesPerToken / 1e9;
                table.Add(row.Name, row.TokensPerSecond, row.BestTokensPerSecond, $"{gigabytesPerSecond:0.0} GB/s", $"{read:0.0} GB/s",
                    gigabytesPerSecond / read, $"{onePass:0.0} GB/s", gigabytesPerSecond / onePass);
            }
            else
            {
                double gigaflops = row.TokensPerSecond * row.FlopsPerToken / 1e9;
                table.Add(row.Name, row.TokensPerSecond, row.BestTokensPerSecond, $"{gigaflops:0} GFLOP/s", $"{peak:0} GFLOP/s", gigaflops / peak, "", "");
            }
        }
        table.Print();
        if (residentMegabytes.Count > 0)
        {
            output.WriteLine($"RSS after batch-1 decode, without the bench's bandwidth buffer (one model at a time): {string.Join(", ", residentMegabytes)}");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RunWeightType(BenchContext context, WeightType weightType, Gpt2Config config, double streamedParameters,
        double flopsPerToken, List<Row> rows, List<string> residentMegabytes)
    {
        const string size = "gpt2";
        var output = Console.Out;
        string dtype = weightType.Name();
        bool f32 = weightType == WeightType.Float32;
        int[] contexts = f32 ? [16, 128] : [16];
        int[] prefills = f32 ? [128, 512] : [128];
        string batchName = $"{dtype} decode b8 ctx 16+{Steps}";
        string recomputeName = $"{dtype} decode b1 ctx 16+{Steps}, no cache";
        string[] names =
        [
            .. contexts.Select(promptLength => $"{dtype} decode b1 ctx {promptLength}+{Steps}"), batchName,
            .. f32 ? [recomputeName] : Array.Empty<string>(), .. prefills.Select(promptLength => $"{dtype} prefill {promptLength}"),
        ];
        if (!names.Any(context.Selects))
        {
            return; // building a 124M model takes seconds: only for rows the filter keeps
        }
        // The previous dtype's model is gone: collect it, so the RSS below is this model's.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var build = Stopwatch.StartNew();
        using var model = ModelRegistry.Build(() => Gpt2Model.CreateRandom(config, seed: 1), weightType);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {size}-shaped, random weights, {config.ParameterCount / 1e6:0.0} M parameters, {dtype} (built in {build.Elapsed.TotalSeconds:0.0} s)"));
        // Linear weights (everything streamed but the norms and biases) take 4, 2 or 1 bytes (+ int8 scales).
        double bytesPerToken = streamedParameters * BytesPerWeight(weightType);
        foreach (int promptLength in contexts)
        {
            string name = $"{dtype} decode b1 ctx {promptLength}+{Steps}";
            if (context.Selects(name))
            {
                // A read-ceiling sample after each timed run: the row's ceiling is their median, over the same minutes.
                var samples = new List<(double ReadGBps, double OnePassGBps)>();
                var timing = DecodeTimer.Seconds(model, promptLength, Steps, repeats: 7, afterEachRun: () => samples.Add(Ceilings.SampleRead()));
                if (promptLength == contexts[0])
                {
                    // Resident memory while decoding: weights (a bf16/int8/f32-packed model keeps only its
                    // converted copy; norms, biases and wpe stay f32), cache, runtime. Garbage from building (the
                    // f32 tensors a converted layer let go) is returned to the OS first, and the bench's own
                    // bandwidth buffer is not counted.
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    using var process = Process.GetCurrentProcess();
                    residentMegabytes.Add($"{dtype} {(process.WorkingSet64 - Ceilings.BufferBytes) / 1e6:0} MB");
                }
                rows.Add(new Row(name, Steps / timing.Median, Steps / timing.Best, Bound.Bandwidth, bytesPerToken, 0)
                {
                    Now = Ceilings.FromReadSamples(samples, context.Ceilings.FmaGflops),
                });
            }
        }
        if (context.Selects(batchName))
        {
            // Eight rows share each pass over the weights: bytes per token are an eighth.
            var samples = new List<(double ReadGBps, double OnePassGBps)>();
            var timing = DecodeTimer.Seconds(model, 16, Steps, repeats: 7, batchSize: 8, afterEachRun: () => samples.Add(Ceilings.SampleRead()));
            rows.Add(new Row(batchName, 8 * Steps / timing.Median, 8 * Steps / timing.Best, Bound.Bandwidth, bytesPerToken / 8, 0)
            {
                Now = Ceilings.FromReadSamples(samples, context.Ceilings.FmaGflops),
            });
        }
        if (f32 && context.Selects(recomputeName))
        {
            // Step t runs 16 + t tokens; against the FMA peak, counting the work it really does.
            double seconds = DecodeTimer.BestSecondsWithoutCache(model, 16, Steps);
            double tokensRun = Steps * 16.0 + Steps * (Steps - 1) / 2.0;
            rows.Add(new Row(recomputeName, Steps / seconds, Steps / seconds, Bound.Fma, 0, flopsPerToken * tokensRun / Steps));
        }
        foreach (int promptLength in prefills)
        {
            string name = $"{dtype} prefill {promptLength}";
            if (!context.Selects(name))
            {
                continue;
            }
            var prompt = DecodeTimer.Prompt(model, promptLength);
            var logits = new float[config.VocabSize];
            var timing = Measure.Time(() =>
            {
                using var session = model.StartSession(PromptBatch.Single(prompt), 1);
                session.Prefill(logits);
            }, samples: 7, sampleSeconds: 0.05, warmupSeconds: 0.3);
            rows.Add(new Row(name, promptLength / timing.Median, promptLength / timing.Best, Bound.Fma, 0, flopsPerToken) { Now = Ceilings.Measure(quick: true) });
        }
    }

    private static double BytesPerWeight(WeightType type) => type switch
    {
        WeightType.BFloat16 => 2,
        WeightType.Int8 => 1,
        _ => 4, // f32 and f32-packed
    };
}
