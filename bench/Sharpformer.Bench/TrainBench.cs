using System.Diagnostics;
using System.Globalization;
using Sharpformer.Bench.Harness;
using Sharpformer.Models;
using Sharpformer.Training;

namespace Sharpformer.Bench;

/// <summary>GPT-2 124M-shaped (random weights) training step: forward + backward tokens/s, against the fp32 FMA peak.</summary>
internal static class TrainBench
{
    public static void Run(BenchContext context)
    {
        var output = Console.Out;
        const string size = "gpt2";
        const int batchSize = 4, length = 64, steps = 3;
        var config = Gpt2Config.Named[size];
        var build = Stopwatch.StartNew();
        var model = Gpt2TrainableModel.CreateRandom(config, seed: 1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {size}-shaped, random weights, {config.ParameterCount / 1e6:0.0} M parameters, float32, dropout off, batch {batchSize} × {length} (built in {build.Elapsed.TotalSeconds:0.0} s)"));
        var ids = Enumerable.Range(0, batchSize * length).Select(i => (i * 104729) % config.VocabSize).ToArray();
        var batch = new TrainingBatch(batchSize, length, ids, ids);

        // One untimed step (JIT, pools), then the best of a few: forward + backward + zeroing the gradients.
        double best = double.MaxValue;
        for (int step = 0; step <= steps; step++)
        {
            var timer = Stopwatch.StartNew();
            model.ForwardBackward(batch);
            foreach (var parameter in model.Parameters)
            {
                parameter.ZeroGradient();
            }
            if (step > 0)
            {
                best = Math.Min(best, timer.Elapsed.TotalSeconds);
            }
        }
        double forward = double.MaxValue;
        for (int repeat = 0; repeat < 2; repeat++)
        {
            var forwardTimer = Stopwatch.StartNew();
            model.Evaluate(batch);
            forward = Math.Min(forward, forwardTimer.Elapsed.TotalSeconds);
        }
        var ceilings = context.RefreshCeilings();
        // 6 FLOP per weight per token (forward 2, backward 4) over the blocks and the head (wte as the LM head; the
        // embedding lookups are gathers), plus attention's q·kᵀ and p·v: 6·2·layers·length·hidden (PaLM's count).
        double matrixWeights = config.ParameterCount - (double)config.MaxPositions * config.HiddenSize;
        double flopsPerToken = 6.0 * matrixWeights + 12.0 * config.LayerCount * length * config.HiddenSize;
        double tokensPerSecond = batchSize * length / best;
        double gigaflops = tokensPerSecond * flopsPerToken / 1e9;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ceilings: fp32 FMA peak {ceilings.FmaGflops:0} GFLOP/s"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"train step ({batchSize}×{length} tokens): {best * 1000,7:0} ms  {tokensPerSecond,7:0.0} tok/s  {gigaflops,6:0.0} GFLOP/s = {gigaflops / ceilings.FmaGflops:0.00} of fp32 FMA peak (forward alone {forward * 1000:0} ms)"));
    }
}
