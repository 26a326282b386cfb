using System.CommandLine;
using System.Globalization;
using Sharpformer.IO;
using Sharpformer.Tokenizers;
using Sharpformer.Training;

namespace Sharpformer.Cli;

/// <summary>`sharpformer eval`: held-out loss and perplexity of a checkpoint on a corpus, split as `train` splits it.</summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model", "-m") { Description = "checkpoint folder (written by sharpformer train, or any trainable HF folder)", Required = true };
        var data = new Option<string>("--data") { Description = "text: a .txt or .txt.gz file, or a folder of them", Required = true };
        var sequence = new Option<int?>("--seq") { Description = "tokens per row (default: the training run's, else 128)" };
        var batch = new Option<int>("--batch") { Description = "rows per forward pass", DefaultValueFactory = _ => 8 };
        var objectiveOption = new Option<string?>("--objective") { Description = "objective to score (default: the training run's, else the model family's first)" };
        var all = new Option<bool>("--all") { Description = "score every row of the data, not only the held-out tail that train sets aside" };
        var command = new Command("eval", "Print a checkpoint's held-out loss and perplexity on a text corpus") { model, data, sequence, batch, objectiveOption, all };
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

            var tokenizer = Tokenizer.FromFolder(folder);
            var objective = TrainingCatalog.CreateObjective(objectiveName, tokenizer, config.GetInt("vocab_size"));
            var trainable = TrainingCatalog.ModelKind(config.ModelType, config.Source).Load(folder, 0);
            var corpus = TokenizedCorpus.Load(parse.GetValue(data)!, tokenizer, objective, sequenceLength, heldOut);
            var rows = parse.GetValue(all) ? [.. corpus.Training, .. corpus.HeldOut] : corpus.HeldOut;
            if (rows.Count == 0)
            {
                throw new ArgumentException($"{parse.GetValue(data)}: too little text to hold any rows out; pass --all to score all of it");
            }
            var result = Trainer.Evaluate(trainable, objective, rows, sequenceLength, batchSize, maxBatches: 0, seed)
                ?? throw new ArgumentException($"{parse.GetValue(data)}: the {objective.Name} batches had no targets to score");
            string which = parse.GetValue(all) ? "all" : "held-out";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{which} loss {result.Loss:0.0000}  perplexity {result.Perplexity:0.00}  ({result.TargetCount:N0} targets in {rows.Count} rows of {corpus.SegmentLength} tokens, {objective.Name})"));
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
