using System.Diagnostics;
using System.Globalization;
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
    private sealed record Row(string Name, double TokensPerSecond, double BestTokensPerSecond, Bound Bound, double BytesPerToken, double FlopsPerToken);

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
                continue; // building a 124M model takes seconds: only for rows the filter keeps
            }
            // The previous dtype's model is gone: collect it, so the RSS below is this model's.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
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
                    var timing = DecodeTimer.Seconds(model, promptLength, Steps);
                    rows.Add(new Row(name, Steps / timing.Median, Steps / timing.Best, Bound.Bandwidth, bytesPerToken, 0));
                    if (promptLength == contexts[0])
                    {
                        // Resident memory while decoding: weights (a bf16/int8 model keeps only its converted copy;
                        // norms, biases and wpe stay f32), cache, runtime.
                        using var process = Process.GetCurrentProcess();
                        residentMegabytes.Add($"{dtype} {process.WorkingSet64 / 1e6:0} MB (peak so far {process.PeakWorkingSet64 / 1e6:0} MB)");
                    }
                }
            }
            if (context.Selects(batchName))
            {
                // Eight rows share each pass over the weights: bytes per token are an eighth.
                var timing = DecodeTimer.Seconds(model, 16, Steps, batchSize: 8);
                rows.Add(new Row(batchName, 8 * Steps / timing.Median, 8 * Steps / timing.Best, Bound.Bandwidth, bytesPerToken / 8, 0));
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
                rows.Add(new Row(name, promptLength / timing.Median, promptLength / timing.Best, Bound.Fma, 0, flopsPerToken));
            }
        }

        // Ceilings measured around the rows (best seen), since the machine is shared.
        var ceilings = context.RefreshCeilings();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ceilings: read {ceilings.ReadGBps:0.0} GB/s (decode limit: f32 {ceilings.ReadGBps * 1e9 / (streamedParameters * 4):0} tok/s, bf16 {ceilings.ReadGBps * 1e9 / (streamedParameters * 2):0}, int8 {ceilings.ReadGBps * 1e9 / streamedParameters:0}), fp32 FMA peak {ceilings.FmaGflops:0} GFLOP/s"));
        var table = new Table("row", "tok/s (median)", "best", "achieved", "ceiling", "ratio");
        foreach (var row in rows)
        {
            if (row.Bound == Bound.Bandwidth)
            {
                double gigabytesPerSecond = row.TokensPerSecond * row.BytesPerToken / 1e9;
                table.Add(row.Name, row.TokensPerSecond, row.BestTokensPerSecond, $"{gigabytesPerSecond:0.0} GB/s", $"{ceilings.ReadGBps:0.0} GB/s", gigabytesPerSecond / ceilings.ReadGBps);
            }
            else
            {
                double gigaflops = row.TokensPerSecond * row.FlopsPerToken / 1e9;
                table.Add(row.Name, row.TokensPerSecond, row.BestTokensPerSecond, $"{gigaflops:0} GFLOP/s", $"{ceilings.FmaGflops:0} GFLOP/s", gigaflops / ceilings.FmaGflops);
            }
        }
        table.Print();
        if (residentMegabytes.Count > 0)
        {
            output.WriteLine($"RSS after batch-1 decode (one model at a time; run `gpt2` alone for a clean figure): {string.Join(", ", residentMegabytes)}");
        }
    }

    private static double BytesPerWeight(WeightType type) => type switch
    {
        WeightType.BFloat16 => 2,
        WeightType.Int8 => 1,
        _ => 4, // f32 and f32-packed
    };
}
