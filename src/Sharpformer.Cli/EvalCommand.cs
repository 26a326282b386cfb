using System.CommandLine;
using System.Globalization;
using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Models;
using Sharpformer.Tokenizers;
using Sharpformer.Training;

namespace Sharpformer.Cli;

/// <summary>`sharpformer eval`: held-out loss and perplexity of a checkpoint on a corpus, split as `train` splits it.</summary>
internal static class EvalCommand
{
    // The objective whose batches the inference forward (and so --dtype) can score.
    private const string CausalObjective = "clm";

    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model", "-m") { Description = "checkpoint folder (written by sharpformer train, or any trainable HF folder)", Required = true };
        var data = new Option<string>("--data") { Description = "text: a .txt or .txt.gz file, or a folder of them", Required = true };
        var sequence = new Option<int?>("--seq") { Description = "tokens per row (default: the training run's, else 128)" };
        var batch = new Option<int>("--batch") { Description = "rows per forward pass", DefaultValueFactory = _ => 8 };
        var objectiveOption = new Option<string?>("--objective") { Description = "objective to score (default: the training run's, else the model family's first)" };
        var all = new Option<bool>("--all") { Description = "score every row of the data, not only the held-out tail that train sets aside" };
        // No default: without --dtype eval runs the training forward, as it always has.
        var dtype = CommandLine.DTypeOption();
        dtype.Description = "score a causal LM through the inference forward with these weights: f32, f32-packed, bf16 or int8 (default: the training forward)";
        dtype.DefaultValueFactory = null;
        var compare = new Option<bool>("--compare-f32") { Description = "with --dtype: also score the f32 weights and print their loss and the largest logit difference" };
        var command = new Command("eval", "Print a checkpoint's held-out loss and perplexity on a text corpus") { model, data, sequence, batch, objectiveOption, all, dtype, compare };
        command.SetAction(parse =>
        {
            string folder = ModelLocator.Resolve(parse.GetValue(model)!);
            var config = HfConfig.Load(Path.Combine(folder, "config.json"));
            var state = TrainingState(folder);
            string objectiveName = parse.GetValue(objectiveOption)
                ?? state.GetValueOrDefault("objective")
                ?? TrainingCatalog.Objectives.FirstOrDefault(o => o.Trains(config.ModelType))?.Name
                ?? throw new ArgumentException($"{folder}: no objective trains model_type '{config.ModelType}'");
            int sequenceLength = parse.GetValue(sequence) ?? (state.TryGetValue("sequence_length", out var stored) ? int.Parse(stored, CultureInfo.InvariantCulture) : 128);
            ulong seed = state.TryGetValue("seed", out var storedSeed) ? ulong.Parse(storedSeed, CultureInfo.InvariantCulture) : 0;
            double heldOut = state.TryGetValue("held_out_fraction", out var storedFraction) ? double.Parse(storedFraction, CultureInfo.InvariantCulture) : TrainCommand.HeldOutFraction;
            int batchSize = parse.GetValue(batch);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize, "Batch");
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sequenceLength, "Seq");
            bool inference = parse.GetResult(dtype) is not null;
            var weightType = CommandLine.ReadDType(parse, dtype);
            bool compareF32 = parse.GetValue(compare);
            if (compareF32 && !inference)
            {
                throw new ArgumentException("--compare-f32 compares the weights --dtype names with f32; give --dtype bf16 or int8");
            }
            if (inference && objectiveName != CausalObjective)
            {
                // The training forward is already the f32 forward; only bf16/int8 need the inference path.
                if (weightType != WeightType.Float32 || compareF32)
                {
                    throw new ArgumentException($"--dtype {weightType.Name()}: low-precision eval covers causal LMs (--objective clm on gpt2, gpt_neo), not --objective {objectiveName} on model_type '{config.ModelType}'");
                }
                inference = false;
            }

            var tokenizer = Tokenizer.FromFolder(folder);
            var objective = TrainingCatalog.CreateObjective(objectiveName, tokenizer, config.GetInt("vocab_size"));
            var trainable = inference ? null : TrainingCatalog.ModelKind(config.ModelType, config.Source).Load(folder, 0);
            var corpus = TokenizedCorpus.Load(parse.GetValue(data)!, tokenizer, objective, sequenceLength, heldOut);
            var rows = parse.GetValue(all) ? [.. corpus.Training, .. corpus.HeldOut] : corpus.HeldOut;
            if (rows.Count == 0)
            {
                throw new ArgumentException($"{parse.GetValue(data)}: too little text to hold any rows out; pass --all to score all of it");
            }
            string noTargets = $"{parse.GetValue(data)}: the {objective.Name} batches had no targets to score";
            string which = parse.GetValue(all) ? "all" : "held-out";
            string rowsScored = $"{rows.Count} rows of {corpus.SegmentLength} tokens, {objective.Name}";
            if (trainable is not null)
            {
                var result = Trainer.Evaluate(trainable, objective, rows, sequenceLength, batchSize, maxBatches: 0, seed) ?? throw new ArgumentException(noTargets);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{which} loss {result.Loss:0.0000}  perplexity {result.Perplexity:0.00}  ({result.TargetCount:N0} targets in {rowsScored})"));
                return 0;
            }
            // The same batches the training forward scores, so the targets (and the split) are identical.
            var batches = Trainer.EvaluationBatches(objective, rows, sequenceLength, batchSize, maxBatches: 0, seed);
            using var inferenceModel = ModelRegistry.Load(folder, weightType);
            using var reference = compareF32 ? ModelRegistry.Load(folder) : null;
            var scored = InferenceEvaluation.Evaluate(inferenceModel, batches, reference) ?? throw new ArgumentException(noTargets);
            string line = string.Create(CultureInfo.InvariantCulture,
                $"{which} loss {scored.Loss:0.0000}  perplexity {scored.Perplexity:0.00}  ({scored.TargetCount:N0} targets in {rowsScored}, {weightType.Name()} weights)");
            if (scored.ReferenceLoss is double referenceLoss)
            {
                line += string.Create(CultureInfo.InvariantCulture,
                    $"  f32: loss {referenceLoss:0.0000}  perplexity {Math.Exp(referenceLoss):0.00}  loss change {scored.Loss - referenceLoss:+0.00000;-0.00000;0.00000}  max |logit - f32 logit| {scored.MaxLogitDifference:0.0000}");
            }
            output.WriteLine(line);
            return 0;
        });
        return command;
    }

    // The metadata of training_state.safetensors (empty when the folder was not written by train).
    private static Dictionary<string, string> TrainingState(string folder)
    {
        string path = Path.Combine(folder, Trainer.StateFileName);
        if (!File.Exists(path))
        {
            return [];
        }
        using var file = SafetensorsFile.Open(path);
        return new Dictionary<string, string>(file.Metadata);
    }
}
