using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>What a training run does; every count is in optimizer steps unless named otherwise.</summary>
public sealed record TrainerOptions
{
    public int Steps { get; init; } = 1000;

    /// <summary>Rows per forward pass (a micro-batch when <see cref="AccumulationSteps"/> > 1).</summary>
    public int BatchSize { get; init; } = 8;

    public int SequenceLength { get; init; } = 128;

    /// <summary>Peak learning rate of the warmup + cosine schedule.</summary>
    public double LearningRate { get; init; } = 1e-3;

    public int WarmupSteps { get; init; }

    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Decay norms and biases too (torch's single param group); otherwise only parameters marked for decay.</summary>
    public bool DecayAllParameters { get; init; }

    /// <summary>clip_grad_norm_'s max_norm; 0 turns clipping off.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Micro-batches whose gradients add up (each scaled by 1/N) before one optimizer step.</summary>
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>Evaluate on the held-out rows every N steps (and after the last); 0 = only after the last.</summary>
    public int EvalEvery { get; init; }

    /// <summary>At most this many held-out batches per evaluation; 0 = all of them.</summary>
    public int EvalBatches { get; init; }

    /// <summary>Write a checkpoint every N steps (and after the last); 0 = only after the last.</summary>
    public int SaveEvery { get; init; }

    /// <summary>Seeds the data order and the objective's noise.</summary>
    public ulong Seed { get; init; }

    public void Validate()
    {
        Positive(Steps, nameof(Steps));
        Positive(BatchSize, nameof(BatchSize));
        Positive(SequenceLength, nameof(SequenceLength));
        Positive(AccumulationSteps, nameof(AccumulationSteps));
        NotNegative(WarmupSteps, nameof(WarmupSteps));
        NotNegative(EvalEvery, nameof(EvalEvery));
        NotNegative(EvalBatches, nameof(EvalBatches));
        NotNegative(SaveEvery, nameof(SaveEvery));
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, $"LearningRate must be positive (got {LearningRate})");
        }
        if (!(ClipNorm >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(ClipNorm), ClipNorm, $"ClipNorm must be 0 (off) or positive (got {ClipNorm})");
        }
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive (got {value})");
        }
    }

    private static void NotNegative(int value, string name)
    {
        if (value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must not be negative (got {value})");
        }
    }
}

/// <summary>One optimizer step: the mean loss of its micro-batches, the gradient norm before clipping, and its speed.</summary>
public sealed record StepResult(int Step, double LearningRate, double Loss, double GradientNorm, long Tokens, double Seconds)
{
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}

/// <summary>Held-out loss: the mean over every target position, and its perplexity exp(loss).</summary>
public sealed record EvalResult(double Loss, int TargetCount)
{
    public double Perplexity => Math.Exp(Loss);
}

/// <summary>What goes into a checkpoint besides the model's own files.</summary>
public sealed record CheckpointExtras
{
    /// <summary>Folder whose tokenizer files are copied into every checkpoint.</summary>
    public string? TokenizerDirectory { get; init; }

    /// <summary>generation_config.json text (null = none written).</summary>
    public string? GenerationConfigJson { get; init; }
}

/// <summary>
/// Trains an <see cref="ITrainableModel"/> on a <see cref="TokenizedCorpus"/> with an objective: AdamW (torch 1.13),
/// warmup + cosine schedule, clipping, accumulation, held-out evaluation, a JSON-lines loss log and atomic
/// checkpoints that hold everything needed to resume with the same subsequent losses.
/// </summary>
public sealed class Trainer
{
    public const string StateFileName = "training_state.safetensors";
    public const string LogFileName = "training_log.jsonl";
    private const string StateFormat = "sharpformer-training-state-1";
    private const ulong EvalSeedSalt = 0x5EED_E7A1UL;

    private readonly ITrainableModel _model;
    private readonly ITrainingObjective _objective;
    private readonly TokenizedCorpus _corpus;
    private readonly WarmupCosineSchedule _schedule;
    private SegmentOrder _order;
    private readonly Rng _objectiveRng;
    private string? _resumedFrom;

    public Trainer(ITrainableModel model, ITrainingObjective objective, TokenizedCorpus corpus, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (corpus.SegmentLength != objective.SegmentLength(options.SequenceLength))
        {
            throw new ArgumentException($"the corpus was cut into rows of {corpus.SegmentLength} tokens; {objective.Name} at sequence length {options.SequenceLength} needs {objective.SegmentLength(options.SequenceLength)}");
        }
        _model = model;
        _objective = objective;
        _corpus = corpus;
        Options = options;
        Optimizer = new AdamW(model.Parameters, new AdamWOptions
        {
            LearningRate = options.LearningRate,
            WeightDecay = options.WeightDecay,
            DecayAllParameters = options.DecayAllParameters,
        });
        _schedule = new WarmupCosineSchedule(options.LearningRate, options.WarmupSteps, options.Steps);
        _order = new SegmentOrder(corpus.Training.Count, options.Seed);
        _objectiveRng = new Rng(options.Seed);
    }

    public TrainerOptions Options { get; }

    public AdamW Optimizer { get; }

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>Where the data order stands: epoch and rows read in it.</summary>
    public (int Epoch, int Index) DataPosition => (_order.Epoch, _order.Index);

    /// <summary>One optimizer step over <see cref="TrainerOptions.AccumulationSteps"/> micro-batches.</summary>
    public StepResult TrainStep()
    {
        var clock = Stopwatch.StartNew();
        foreach (var parameter in _model.Parameters)
        {
            parameter.ZeroGradient();
        }
        int micro = Options.AccumulationSteps;
        double lossSum = 0;
        int lossCount = 0;
        long tokens = 0;
        for (int m = 0; m < micro; m++)
        {
            var segments = _order.Next(Options.BatchSize).Select(index => _corpus.Training[index]).ToList();
            var batch = _objective.CreateBatch(segments, Options.SequenceLength, _objectiveRng);
            var result = _model.ForwardBackward(batch, 1f / micro);
            if (result.TargetCount > 0)
            {
                lossSum += result.Loss;
                lossCount++;
            }
            tokens += CountTokens(batch);
        }
        double norm = Options.ClipNorm > 0
            ? GradientClipping.ClipByTotalNorm(_model.Parameters, Options.ClipNorm)
            : GradientClipping.TotalNorm(_model.Parameters);
        double learningRate = _schedule.At(Step);
        Optimizer.Step(learningRate);
        Step++;
        return new StepResult(Step, learningRate, lossCount > 0 ? lossSum / lossCount : double.NaN, norm, tokens, clock.Elapsed.TotalSeconds);
    }

    private static long CountTokens(TrainingBatch batch)
    {
        long inputs = batch.AttentionMask is { } mask ? mask.Count(value => value != 0) : batch.InputIds.Length;
        return inputs + (batch.TargetLength > 0 ? batch.Labels.Length : 0);
    }

    /// <summary>Loss over the held-out rows in order (the same noise every time); null when nothing is held out.</summary>
    public EvalResult? Evaluate() =>
        Evaluate(_model, _objective, _corpus.HeldOut, Options.SequenceLength, Options.BatchSize, Options.EvalBatches, Options.Seed);

    /// <summary>
    /// The mean loss over every target of <paramref name="segments"/>, read in order in batches (at most
    /// <paramref name="maxBatches"/>, 0 = all), with the objective's noise drawn from a generator seeded afresh.
    /// </summary>
    public static EvalResult? Evaluate(ITrainableModel model, ITrainingObjective objective, IReadOnlyList<ReadOnlyMemory<int>> segments,
        int sequenceLength, int batchSize, int maxBatches, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        double weighted = 0;
        int targets = 0;
        foreach (var batch in EvaluationBatches(objective, segments, sequenceLength, batchSize, maxBatches, seed))
        {
            var result = model.Evaluate(batch);
            if (result.TargetCount > 0)
            {
                weighted += result.Loss * result.TargetCount;
                targets += result.TargetCount;
            }
        }
        return targets == 0 ? null : new EvalResult(weighted / targets, targets);
    }

    /// <summary>
    /// The batches <see cref="Evaluate(ITrainableModel, ITrainingObjective, IReadOnlyList{ReadOnlyMemory{int}}, int, int, int, ulong)"/>
    /// scores, so another forward (the inference model, low-precision weights) can score the very same targets.
    /// </summary>
    public static IEnumerable<TrainingBatch> EvaluationBatches(ITrainingObjective objective, IReadOnlyList<ReadOnlyMemory<int>> segments,
        int sequenceLength, int batchSize, int maxBatches, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return Batches();

        IEnumerable<TrainingBatch> Batches()
        {
            var rng = new Rng(seed ^ EvalSeedSalt);
            int batches = 0;
            for (int start = 0; start < segments.Count && (maxBatches == 0 || batches < maxBatches); start += batchSize, batches++)
            {
                var rows = segments.Skip(start).Take(batchSize).ToList();
                yield return objective.CreateBatch(rows, sequenceLength, rng);
            }
        }
    }

    /// <summary>
    /// Runs to <see cref="TrainerOptions.Steps"/>, evaluating, logging to <paramref name="outputDirectory"/>/training_log.jsonl
    /// and checkpointing into <paramref name="outputDirectory"/> (null: no files) as the options say.
    /// </summary>
    public void Run(string? outputDirectory, CheckpointExtras? extras = null, Action<StepResult, EvalResult?>? progress = null, CancellationToken cancellation = default)
    {
        string? logPath = outputDirectory is null ? null : Path.Combine(outputDirectory, LogFileName);
        if (outputDirectory is not null)
        {
            Directory.CreateDirectory(outputDirectory);
            // A fresh run starts a fresh log; a resumed one keeps the lines up to its checkpoint's step.
            var kept = _resumedFrom is null ? [] : LogLinesUpTo(Path.Combine(_resumedFrom, LogFileName), Step).ToList();
            SafetensorsWriter.WriteTextAtomically(logPath!, string.Concat(kept.Select(line => line + "\n")));
        }
        while (Step < Options.Steps)
        {
            cancellation.ThrowIfCancellationRequested();
            var step = TrainStep();
            bool last = Step == Options.Steps;
            var eval = last || (Options.EvalEvery > 0 && Step % Options.EvalEvery == 0) ? Evaluate() : null;
            if (logPath is not null)
            {
                File.AppendAllText(logPath, LogLine(step, eval) + "\n");
            }
            progress?.Invoke(step, eval);
            if (outputDirectory is not null && (last || (Options.SaveEvery > 0 && Step % Options.SaveEvery == 0)))
            {
                SaveCheckpoint(outputDirectory, extras);
            }
        }
    }

    /// <summary>One JSON line of the loss curve: step, lr, loss, grad_norm, tokens_per_second, epoch, and eval_loss/perplexity when evaluated.</summary>
    public string LogLine(StepResult step, EvalResult? eval)
    {
        ArgumentNullException.ThrowIfNull(step);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("step", step.Step);
            json.WriteNumber("lr", step.LearningRate);
            WriteFinite(json, "loss", step.Loss);
            WriteFinite(json, "grad_norm", step.GradientNorm);
            json.WriteNumber("tokens_per_second", Math.Round(step.TokensPerSecond, 1));
            json.WriteNumber("epoch", _order.Epoch + (double)_order.Index / _corpus.Training.Count);
            if (eval is not null)
            {
                WriteFinite(json, "eval_loss", eval.Loss);
                WriteFinite(json, "perplexity", eval.Perplexity);
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteFinite(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    /// <summary>
    /// Writes the model (config.json + model.safetensors), the tokenizer files, generation_config.json, the training
    /// state and the log so far into <paramref name="directory"/>, replacing it only once everything is written.
    /// </summary>
    public void SaveCheckpoint(string directory, CheckpointExtras? extras = null)
    {
        string liveLog = Path.Combine(directory, LogFileName);
        CheckpointFolder.WriteAtomically(directory, temporary =>
        {
            _model.Save(temporary);
            if (extras?.TokenizerDirectory is { } tokenizer)
            {
                CheckpointFolder.CopyTokenizerFiles(tokenizer, temporary);
            }
            if (extras?.GenerationConfigJson is { } generation)
            {
                SafetensorsWriter.WriteTextAtomically(Path.Combine(temporary, "generation_config.json"), generation);
            }
            SaveState(Path.Combine(temporary, StateFileName));
            if (File.Exists(liveLog))
            {
                File.Copy(liveLog, Path.Combine(temporary, LogFileName));
            }
        });
    }

    /// <summary>The optimizer moments (torch's names) plus step, data position and random states in the metadata.</summary>
    public void SaveState(string path)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = StateFormat,
            ["step"] = Inv(Step),
            ["optimizer_step"] = Inv(Optimizer.StepCount),
            ["epoch"] = Inv(_order.Epoch),
            ["epoch_index"] = Inv(_order.Index),
            ["training_rows"] = Inv(_corpus.Training.Count),
            ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
            ["objective"] = _objective.Name,
            ["sequence_length"] = Inv(Options.SequenceLength),
            ["batch_size"] = Inv(Options.BatchSize),
            ["held_out_fraction"] = _corpus.HeldOutFraction.ToString("R", CultureInfo.InvariantCulture),
            ["objective_rng"] = _objectiveRng.State.ToString(),
        };
        if (_model.DropoutRng is { } dropout)
        {
            metadata["dropout_rng"] = dropout.State.ToString();
        }
        SafetensorsWriter.Write(path, Optimizer.ExportMoments(), metadata);
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Continues from a checkpoint folder written by <see cref="SaveCheckpoint"/> whose weights the model already holds:
    /// restores the step, optimizer moments, data position and random states.
    /// </summary>
    public void Resume(string checkpointDirectory)
    {
        string path = Path.Combine(checkpointDirectory, StateFileName);
        if (!File.Exists(path))
        {
            throw new CheckpointException($"{checkpointDirectory}: no {StateFileName}, so there is no training state to resume (is it a checkpoint written by sharpformer train?)");
        }
        using var file = SafetensorsFile.Open(path);
        string Field(string name) => file.Metadata.TryGetValue(name, out var value)
            ? value
            : throw new CheckpointException($"{path}: the training state has no \"{name}\"");
        int IntField(string name) => int.TryParse(Field(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= 0
            ? value
            : throw new CheckpointException($"{path}: \"{name}\" is not a non-negative integer ({Field(name)})");
        if (Field("format") != StateFormat)
        {
            throw new CheckpointException($"{path}: unknown training state format '{Field("format")}'");
        }
        if (Field("objective") != _objective.Name)
        {
            throw new CheckpointException($"{path}: the run trained objective {Field("objective")}; resuming with {_objective.Name} would not continue it");
        }
        int rows = IntField("training_rows");
        if (rows != _corpus.Training.Count)
        {
            throw new CheckpointException($"{path}: the run read {rows} training rows, this data gives {_corpus.Training.Count}: resume with the same --data, --seq and tokenizer");
        }
        int step = IntField("step");
        if (step > Options.Steps)
        {
            throw new CheckpointException($"{path}: the checkpoint is at step {step}, past the {Options.Steps} steps asked for");
        }
        Optimizer.Restore(IntField("optimizer_step"), (name, shape) => file.Contains(name)
            ? file.ReadFloat32(name, shape)
            : throw new CheckpointException($"{path}: optimizer state '{name}' is missing (the model's parameters changed?)"));
        _order = new SegmentOrder(_corpus.Training.Count, ulong.Parse(Field("seed"), CultureInfo.InvariantCulture), IntField("epoch"), IntField("epoch_index"));
        _objectiveRng.State = RngState.Parse(Field("objective_rng"));
        if (_model.DropoutRng is { } dropout && file.Metadata.TryGetValue("dropout_rng", out var dropoutState))
        {
            dropout.State = RngState.Parse(dropoutState);
        }
        Step = step;
        _resumedFrom = checkpointDirectory;
    }

    /// <summary>Lines of a loss log up to and including <paramref name="step"/> (a resumed run drops what came after its checkpoint).</summary>
    public static IEnumerable<string> LogLinesUpTo(string logPath, int step)
    {
        if (!File.Exists(logPath))
        {
            yield break;
        }
        foreach (string line in File.ReadLines(logPath))
        {
            if (line.Length == 0)
            {
                continue;
            }
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.TryGetProperty("step", out var value) && value.GetInt32() <= step)
            {
                yield return line;
            }
        }
    }
}
