using System.CommandLine;
using System.Globalization;
using Sharpformer.IO;
using Sharpformer.Tokenizers;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using Spectre.Console;

namespace Sharpformer.Cli;

/// <summary>
/// `sharpformer train`: pretrain a preset from scratch or continue a checkpoint on a text corpus with one of the
/// objectives; checkpoints (with resumable state and the loss log) go to --out.
/// </summary>
internal static class TrainCommand
{
    public const double HeldOutFraction = 0.05;

    public static Command Create(TextWriter output)
    {
        var objective = new Option<string>("--objective") { Description = $"pretraining objective: {string.Join(", ", TrainingCatalog.Objectives.Select(o => $"{o.Name} ({o.ModelType})"))}", Required = true };
        var modelConfig = new Option<string?>("--model-config") { Description = $"train a new model of a preset size: {string.Join(", ", TrainingCatalog.Presets.Select(p => p.Name))}" };
        var init = new Option<string?>("--init") { Description = "start from the weights of a checkpoint folder" };
        var data = new Option<string>("--data") { Description = "training text: a .txt or .txt.gz file, or a folder of them (each file one document)", Required = true };
        var outDirectory = new Option<string>("--out", "-o") { Description = "output folder: the latest checkpoint (HF files + training state) and training_log.jsonl", Required = true };
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch") { Description = "rows per forward pass", DefaultValueFactory = _ => 8 };
        var sequence = new Option<int>("--seq") { Description = "tokens per row", DefaultValueFactory = _ => 128 };
        var learningRate = new Option<double>("--lr") { Description = "peak learning rate (AdamW, warmup then cosine to 0)", DefaultValueFactory = _ => 1e-3 };
        var warmup = new Option<int>("--warmup") { Description = "linear warmup steps" };
        var weightDecay = new Option<double>("--weight-decay") { Description = "decoupled weight decay of matrices and embeddings", DefaultValueFactory = _ => 0.01 };
        var clip = new Option<double>("--clip") { Description = "clip the gradient norm to this (0 = off)", DefaultValueFactory = _ => 1.0 };
        var evalEvery = new Option<int>("--eval-every") { Description = "held-out loss every N steps (0 = at the end only)" };
        var evalBatches = new Option<int>("--eval-batches") { Description = "held-out batches per evaluation (0 = all)", DefaultValueFactory = _ => 50 };
        var saveEvery = new Option<int>("--save-every") { Description = "checkpoint every N steps (0 = at the end only)" };
        var accumulate = new Option<int>("--accumulate") { Description = "micro-batches per optimizer step (gradient accumulation)", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "seed of the weights, data order and noise" };
        var tokenizerOption = new Option<string?>("--tokenizer") { Description = "tokenizer folder (default: the --init or --resume folder, else the preset's bundled tokenizer)" };
        var resume = new Option<string?>("--resume") { Description = "continue a run from a checkpoint folder it wrote (same --data and --seq)" };
        var command = new Command("train", "Train a model on a text corpus with a pretraining objective (clm, mlm, denoise, span, plm, unilm)")
        {
            objective, modelConfig, init, data, outDirectory, steps, batch, sequence, learningRate, warmup, weightDecay, clip,
            evalEvery, evalBatches, saveEvery, accumulate, seed, tokenizerOption, resume,
        };
        command.SetAction((parse, cancellation) =>
        {
            var options = new TrainerOptions
            {
                Steps = parse.GetValue(steps),
                BatchSize = parse.GetValue(batch),
                SequenceLength = parse.GetValue(sequence),
                LearningRate = parse.GetValue(learningRate),
                WarmupSteps = parse.GetValue(warmup),
                WeightDecay = parse.GetValue(weightDecay),
                ClipNorm = parse.GetValue(clip),
                EvalEvery = parse.GetValue(evalEvery),
                EvalBatches = parse.GetValue(evalBatches),
                SaveEvery = parse.GetValue(saveEvery),
                AccumulationSteps = parse.GetValue(accumulate),
                Seed = parse.GetValue(seed),
            };
            options.Validate();
            var run = new RunSetup(parse.GetValue(objective)!, parse.GetValue(modelConfig), parse.GetValue(init), parse.GetValue(resume),
                parse.GetValue(tokenizerOption), parse.GetValue(data)!, parse.GetValue(outDirectory)!);
            return Task.FromResult(Train(run, options, output, cancellation));
        });
        return command;
    }

    private sealed record RunSetup(string Objective, string? Preset, string? Init, string? Resume, string? Tokenizer, string Data, string Out);

    private static int Train(RunSetup run, TrainerOptions options, TextWriter output, CancellationToken cancellation)
    {
        var objectiveKind = TrainingCatalog.Objective(run.Objective);
        TrainingCatalog.RequireTrainable(objectiveKind);
        int sources = (run.Preset is null ? 0 : 1) + (run.Init is null ? 0 : 1) + (run.Resume is null ? 0 : 1);
        if (sources != 1)
        {
            throw new ArgumentException("give exactly one of --model-config NAME (a new model), --init DIR (start from a checkpoint) or --resume DIR (continue a run)");
        }
        if (run.Resume is not null && CheckpointFolder.Recover(run.Resume))
        {
            output.WriteLine($"{run.Resume}: restored the checkpoint that an interrupted save had moved aside");
        }
        string outFull = Path.GetFullPath(run.Out);
        bool resumingInPlace = run.Resume is not null && Path.GetFullPath(run.Resume) == outFull;
        if (Directory.Exists(outFull) && Directory.EnumerateFileSystemEntries(outFull).Any() && !resumingInPlace)
        {
            throw new ArgumentException($"--out {run.Out} already holds files: choose another folder, or continue that run with --resume {run.Out}");
        }

        // Tokenizer and config: from the preset (new weights) or the checkpoint folder.
        string? folder = run.Resume ?? run.Init;
        string tokenizerFolder = run.Tokenizer ?? folder ?? (TrainingCatalog.Preset(run.Preset!).DefaultTokenizer is { } bundled
            ? Path.Combine(AppContext.BaseDirectory, "models", bundled)
            : CommandLine.DefaultModel);
        var tokenizer = Tokenizer.FromFolder(tokenizerFolder);
        HfConfig config;
        TrainingPreset? preset = null;
        if (folder is not null)
        {
            config = HfConfig.Load(Path.Combine(ModelLocator.Resolve(folder), "config.json"));
        }
        else
        {
            preset = TrainingCatalog.Preset(run.Preset!);
            config = TrainingCatalog.PresetConfig(preset, TrainingCatalog.PresetVocabSize(preset, tokenizer));
        }
        if (!objectiveKind.Trains(config.ModelType))
        {
            throw new ArgumentException($"--objective {objectiveKind.Name} trains a {objectiveKind.ModelType} model; {config.Source} is model_type '{config.ModelType}'");
        }
        int vocabSize = config.GetInt("vocab_size");
        if (tokenizer.VocabSize > vocabSize)
        {
            throw new ArgumentException($"the tokenizer in {tokenizerFolder} has {tokenizer.VocabSize} tokens, more than the model's vocab_size {vocabSize}");
        }
        if (TrainingCatalog.MaxPositions(config) is int maxPositions && options.SequenceLength > maxPositions)
        {
            throw new ArgumentException($"--seq {options.SequenceLength} is longer than the model's {maxPositions} positions");
        }
        var objective = TrainingCatalog.CreateObjective(objectiveKind.Name, tokenizer, vocabSize);
        var kind = TrainingCatalog.ModelKind(config.ModelType, config.Source);
        if (preset is not null)
        {
            config = TrainingCatalog.PresetConfig(preset, vocabSize, TrainingCatalog.PresetSpecialIds(preset.ModelType, tokenizer, objective));
        }

        output.WriteLine($"reading {run.Data} …");
        var corpus = TokenizedCorpus.Load(run.Data, tokenizer, objective, options.SequenceLength, HeldOutFraction);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{corpus.Tokens.Length:N0} tokens: {corpus.Training.Count:N0} training rows and {corpus.HeldOut.Count:N0} held-out rows of {corpus.SegmentLength} tokens"));
        var model = folder is not null ? kind.Load(ModelLocator.Resolve(folder), options.Seed + 1) : kind.CreateRandom(config, options.Seed);
        long parameterCount = model.Parameters.Sum(p => (long)p.Value.Length);
        var trainer = new Trainer(model, objective, corpus, options);
        if (run.Resume is not null)
        {
            trainer.Resume(run.Resume);
            output.WriteLine($"resuming {run.Resume} at step {trainer.Step}");
        }
        var extras = new CheckpointExtras { TokenizerDirectory = tokenizerFolder, GenerationConfigJson = GenerationConfig(folder, objective, config.ModelType) };
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"training {config.ModelType} ({parameterCount:N0} parameters) with {objective.Name}: {options.Steps} steps × {options.BatchSize * options.AccumulationSteps} rows × {options.SequenceLength} tokens"));

        EvalResult? lastEval = null;
        var progress = Interactive(output) ? null : new PlainProgress(output, options.Steps);
        try
        {
            if (progress is null)
            {
                RunWithProgressBar(trainer, outFull, extras, options, eval => lastEval = eval ?? lastEval, cancellation);
            }
            else
            {
                trainer.Run(outFull, extras, (step, eval) =>
                {
                    lastEval = eval ?? lastEval;
                    progress.Report(step, eval);
                }, cancellation);
            }
        }
        catch (OperationCanceledException)
        {
            trainer.SaveCheckpoint(outFull, extras);
            output.WriteLine($"interrupted: saved step {trainer.Step} to {run.Out}; continue with --resume {run.Out}");
            return 130;
        }
        string evalText = lastEval is null ? "" : string.Create(CultureInfo.InvariantCulture, $", held-out loss {lastEval.Loss:0.0000}, perplexity {lastEval.Perplexity:0.00}");
        output.WriteLine($"saved {run.Out} (step {trainer.Step}{evalText})");
        return 0;
    }

    // The checkpoint's own generation_config.json when it has one; GPT-2 otherwise gets its separator as BOS/EOS.
    private static string? GenerationConfig(string? folder, ITrainingObjective objective, string modelType)
    {
        string? existing = folder is null ? null : Path.Combine(ModelLocator.Resolve(folder), "generation_config.json");
        if (existing is not null && File.Exists(existing))
        {
            return File.ReadAllText(existing);
        }
        return modelType is "gpt2" or "gpt_neo" && objective.DocumentSeparator >= 0
            ? string.Create(CultureInfo.InvariantCulture, $"{{\n  \"bos_token_id\": {objective.DocumentSeparator},\n  \"eos_token_id\": {objective.DocumentSeparator}\n}}\n")
            : null;
    }

    private static bool Interactive(TextWriter output) => ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

    private static void RunWithProgressBar(Trainer trainer, string outDirectory, CheckpointExtras extras, TrainerOptions options, Action<EvalResult?> onEval, CancellationToken cancellation)
    {
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: options.Steps);
                task.Value = trainer.Step;
                string evalText = "";
                trainer.Run(outDirectory, extras, (step, eval) =>
                {
                    onEval(eval);
                    if (eval is not null)
                    {
                        evalText = string.Create(CultureInfo.InvariantCulture, $"  eval {eval.Loss:0.000} (ppl {eval.Perplexity:0.0})");
                    }
                    task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                        $"step {step.Step}/{options.Steps}  loss {step.Loss:0.0000}  lr {step.LearningRate:0.000e0}  {step.TokensPerSecond:N0} tok/s{evalText}"));
                    task.Value = step.Step;
                }, cancellation);
            });
    }

    /// <summary>Plain lines when output is redirected: about 50 step lines per run, and every evaluation.</summary>
    private sealed class PlainProgress(TextWriter output, int totalSteps)
    {
        private readonly int _every = Math.Max(1, totalSteps / 50);

        public void Report(StepResult step, EvalResult? eval)
        {
            if (step.Step % _every == 0 || step.Step == totalSteps || eval is not null)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {step.Step}/{totalSteps}  loss {step.Loss:0.0000}  lr {step.LearningRate:0.000e0}  grad norm {step.GradientNorm:0.00}  {step.TokensPerSecond:N0} tok/s"));
            }
            if (eval is not null)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"eval step {step.Step}: held-out loss {eval.Loss:0.0000}  perplexity {eval.Perplexity:0.00}"));
            }
        }
    }
}
