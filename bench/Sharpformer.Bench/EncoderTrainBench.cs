using System.Diagnostics;
using System.Globalization;
using Sharpformer.Bench.Harness;
using Sharpformer.Models;
using Sharpformer.Training;

namespace Sharpformer.Bench;

/// <summary>
/// BERT-base-shaped masked-LM and t5-small-shaped seq2seq training steps (random weights): forward + backward
/// tokens/s, against the fp32 FMA peak.
/// </summary>
internal static class EncoderTrainBench
{
    public static void Run(BenchContext context)
    {
        const int batchSize = 2, length = 64, targetLength = 32;
        if (context.Selects("bert"))
        {
            RunBert(context, batchSize, length);
        }
        if (context.Selects("t5"))
        {
            RunT5(context, batchSize, length, targetLength);
        }
    }

    private static void RunBert(BenchContext context, int batchSize, int length)
    {
        var bertConfig = BertConfig.Base;
        var bert = BertTrainableModel.CreateRandom(bertConfig, seed: 1);
        var ids = Enumerable.Range(0, batchSize * length).Select(i => (i * 104729) % bertConfig.VocabSize).ToArray();
        // BERT's 15%: every 7th position carries a label.
        var labels = ids.Select((id, i) => i % 7 == 3 ? id : TrainingBatch.IgnoreIndex).ToArray();
        var bertBatch = new TrainingBatch(batchSize, length, ids, labels);
        // 6 FLOP per matrix weight per token; the MLM decoder (word embeddings) runs over every position.
        double bertWeights = bert.Parameters.Where(p => p.Value.Rank == 2 && !p.Name.Contains("position", StringComparison.Ordinal)
            && !p.Name.Contains("token_type", StringComparison.Ordinal)).Sum(p => (double)p.Value.Length);
        Report(context, "bert-base MLM", bert, bertBatch, 6.0 * bertWeights * batchSize * length, batchSize * length);
    }

    private static void RunT5(BenchContext context, int batchSize, int length, int targetLength)
    {

        var t5Config = T5Config.Small;
        var t5 = T5TrainableModel.CreateRandom(t5Config, seed: 2);
        var source = Enumerable.Range(0, batchSize * length).Select(i => (i * 7919) % t5Config.VocabSize).ToArray();
        var targets = Enumerable.Range(0, batchSize * targetLength).Select(i => (i * 31) % t5Config.VocabSize).ToArray();
        var t5Batch = new TrainingBatch(batchSize, length, source, targets) { TargetLength = targetLength };
        double encoderWeights = t5.Parameters.Where(p => p.Name.StartsWith("encoder.", StringComparison.Ordinal) && p.Value.Rank == 2).Sum(p => (double)p.Value.Length);
        double decoderWeights = t5.Parameters.Where(p => p.Name.StartsWith("decoder.", StringComparison.Ordinal) && p.Value.Rank == 2).Sum(p => (double)p.Value.Length)
            + (double)t5Config.VocabSize * t5Config.HiddenSize;
        Report(context, "t5-small seq2seq", t5, t5Batch, 6.0 * (encoderWeights * batchSize * length + decoderWeights * batchSize * targetLength),
            batchSize * (length + targetLength));
    }

    private static void Report(BenchContext context, string name, ITrainableModel model, TrainingBatch batch, double flops, int tokens)
    {
        // One untimed step (JIT, pools), then one timed: forward + backward + zeroing the gradients.
        double best = double.MaxValue;
        for (int step = 0; step <= 1; step++)
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
        var ceilings = context.RefreshCeilings();
        double gigaflops = flops / best / 1e9;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-17} batch {batch.BatchSize} × {batch.Length}{(batch.TargetLength > 0 ? $" → {batch.TargetLength}" : "")}: {best * 1000,7:0} ms  {tokens / best,7:0.0} tok/s  {gigaflops,6:0.0} GFLOP/s = {gigaflops / ceilings.FmaGflops:0.00} of fp32 FMA peak ({ceilings.FmaGflops:0} GFLOP/s)"));
    }
}
