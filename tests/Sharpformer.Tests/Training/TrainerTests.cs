using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Tensors;
using Sharpformer.Tests.Tokenizers;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    internal static string SampleText()
    {
        string[] subjects = ["Emma", "Mr. Knightley", "Harriet", "Miss Bates", "Mrs. Weston"];
        string[] verbs = ["walked to", "spoke of", "thought about", "wrote to", "laughed at"];
        string[] objects = ["Highbury", "the vicarage", "Hartfield", "the ball", "Randalls"];
        var rng = new Rng(5);
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < 200; i++)
        {
            text.Append($"{subjects[rng.NextInt(5)]} {verbs[rng.NextInt(5)]} {objects[rng.NextInt(5)]}. ");
            if (i % 10 == 9)
            {
                text.Append("\n\n");
            }
        }
        return text.ToString();
    }

    private static TokenizedCorpus Corpus(int sequenceLength) =>
        TokenizedCorpus.Create("sample", [new CorpusDocument("sample", SampleText())], CorpusTests.TinyTokenizer, new TestCausalObjective(999), sequenceLength, 0.1);

    [Fact]
    public void TwoHalfBatchesAccumulateToTheFullBatchGradient()
    {
        var corpus = Corpus(12);
        var options = new TrainerOptions { Steps = 3, BatchSize = 4, SequenceLength = 12, ClipNorm = 0, Seed = 3, LearningRate = 0.01 };
        var full = new BigramModel(1000, seed: 1);
        var halves = new BigramModel(1000, seed: 1);
        var fullStep = new Trainer(full, new TestCausalObjective(999), corpus, options).TrainStep();
        var halfStep = new Trainer(halves, new TestCausalObjective(999), corpus, options with { BatchSize = 2, AccumulationSteps = 2 }).TrainStep();
        Assert.Equal(fullStep.Loss, halfStep.Loss, 6);
        Assert.Equal(fullStep.GradientNorm, halfStep.GradientNorm, 5);
        Assert.True(fullStep.GradientNorm > 0);
        for (int k = 0; k < 2; k++)
        {
            Goldens.AssertClose(full.Parameters[k].Gradient, halves.Parameters[k].Gradient, 1e-7f, "gradient " + full.Parameters[k].Name);
            Goldens.AssertClose(full.Parameters[k].Value.Span, halves.Parameters[k].Value.Span, 1e-6f, "updated " + full.Parameters[k].Name);
        }
    }

    private static TrainerOptions ResumeOptions => new()
    {
        Steps = 6, BatchSize = 3, SequenceLength = 8, WarmupSteps = 2, LearningRate = 0.05, EvalEvery = 2, SaveEvery = 3, Seed = 17, EvalBatches = 2,
    };

    private static List<JsonElement> Log(string directory) =>
        [.. File.ReadAllLines(Path.Combine(directory, Trainer.LogFileName)).Select(line => JsonDocument.Parse(line).RootElement)];

    [Fact]
    public void ResumingFromACheckpointGivesTheSameLossesAsAnUninterruptedRun()
    {
        var corpus = Corpus(8);
        string straight = Path.Combine(_folder.Path, "straight");
        var losses = new List<double>();
        new Trainer(new BigramModel(1000, seed: 2, dropout: 0.2f), new TestCausalObjective(999, 0.1), corpus, ResumeOptions)
            .Run(straight, progress: (step, _) => losses.Add(step.Loss));

        // Crash after step 4, one step past the checkpoint of step 3.
        string interrupted = Path.Combine(_folder.Path, "interrupted");
        var crashing = new Trainer(new BigramModel(1000, seed: 2, dropout: 0.2f), new TestCausalObjective(999, 0.1), corpus, ResumeOptions);
        Assert.Throws<InvalidOperationException>(() => crashing.Run(interrupted, progress: (step, _) =>
        {
            if (step.Step == 4)
            {
                throw new InvalidOperationException("crash");
            }
        }));
        Assert.Equal(4, Log(interrupted).Count);

        var model = BigramModel.Load(interrupted);
        var resumed = new Trainer(model, new TestCausalObjective(999, 0.1), corpus, ResumeOptions);
        resumed.Resume(interrupted);
        Assert.Equal(3, resumed.Step);
        var resumedLosses = new List<double>();
        resumed.Run(interrupted, progress: (step, _) => resumedLosses.Add(step.Loss));

        Assert.Equal(losses[3..], resumedLosses); // bit for bit
        Assert.NotEqual(losses[3], losses[4]);
        var expectedLog = Log(straight);
        var actualLog = Log(interrupted);
        Assert.Equal(expectedLog.Select(line => line.GetProperty("step").GetInt32()), actualLog.Select(line => line.GetProperty("step").GetInt32()));
        foreach (string field in new[] { "loss", "lr", "grad_norm" })
        {
            Assert.Equal(expectedLog.Select(line => line.GetProperty(field).GetDouble()), actualLog.Select(line => line.GetProperty(field).GetDouble()));
        }
        Assert.Equal(expectedLog[^1].GetProperty("eval_loss").GetDouble(), actualLog[^1].GetProperty("eval_loss").GetDouble());
        using var straightWeights = SafetensorsFile.Open(Path.Combine(straight, "model.safetensors"));
        using var resumedWeights = SafetensorsFile.Open(Path.Combine(interrupted, "model.safetensors"));
        Assert.Equal(straightWeights.ReadFloat32("weight").ToArray(), resumedWeights.ReadFloat32("weight").ToArray());
    }

    [Fact]
    public void RunLogsTheLossCurveEvaluatesAndWritesALoadableCheckpoint()
    {
        var corpus = Corpus(16);
        string output = Path.Combine(_folder.Path, "run");
        var model = new BigramModel(1000, seed: 4);
        var options = new TrainerOptions { Steps = 12, BatchSize = 4, SequenceLength = 16, LearningRate = 0.05, WarmupSteps = 2, EvalEvery = 4 };
        var trainer = new Trainer(model, new TestCausalObjective(999), corpus, options);
        var before = trainer.Evaluate()!;
        trainer.Run(output, new CheckpointExtras { TokenizerDirectory = CorpusTests.TinyTokenizerFolder, GenerationConfigJson = "{\"eos_token_id\": 999}" });
        var after = trainer.Evaluate()!;
        Assert.True(after.Loss < before.Loss - 0.5, $"held-out loss {before.Loss} → {after.Loss}");

        var log = Log(output);
        Assert.Equal(Enumerable.Range(1, 12), log.Select(line => line.GetProperty("step").GetInt32()));
        Assert.Equal(0, log[0].GetProperty("lr").GetDouble());
        Assert.Equal(0.05, log[2].GetProperty("lr").GetDouble(), 12);
        Assert.True(log[^1].GetProperty("loss").GetDouble() < log[0].GetProperty("loss").GetDouble());
        Assert.All(log, line => Assert.True(line.GetProperty("tokens_per_second").GetDouble() > 0));
        var evaluated = log.Where(line => line.TryGetProperty("eval_loss", out _)).ToList();
        Assert.Equal([4, 8, 12], evaluated.Select(line => line.GetProperty("step").GetInt32()));
        Assert.Equal(after.Loss, evaluated[^1].GetProperty("eval_loss").GetDouble(), 12);
        Assert.Equal(Math.Exp(after.Loss), evaluated[^1].GetProperty("perplexity").GetDouble(), 9);

        Assert.Equal(
            ["config.json", "generation_config.json", "merges.txt", "model.safetensors", Trainer.LogFileName, Trainer.StateFileName, "vocab.json"],
            Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["run"], Directory.GetFileSystemEntries(_folder.Path).Select(Path.GetFileName)); // no temporary folders left
        var reloaded = BigramModel.Load(output);
        Assert.Equal(model.Parameters[0].Value.Span.ToArray(), reloaded.Parameters[0].Value.Span.ToArray());
        using var state = SafetensorsFile.Open(Path.Combine(output, Trainer.StateFileName));
        Assert.Equal("12", state.Metadata["step"]);
        Assert.Equal(["exp_avg.weight", "exp_avg_sq.weight", "exp_avg.bias", "exp_avg_sq.bias"], state.Names);
    }

    /// <summary>Writes half a checkpoint and fails, as a full disk would.</summary>
    private sealed class FailingSaveModel(BigramModel inner) : ITrainableModel
    {
        public bool Fail { get; set; }

        public string ModelType => inner.ModelType;

        public IReadOnlyList<Parameter> Parameters => inner.Parameters;

        public LossResult ForwardBackward(TrainingBatch batch, float gradientScale = 1f) => inner.ForwardBackward(batch, gradientScale);

        public LossResult Evaluate(TrainingBatch batch) => inner.Evaluate(batch);

        public void Save(string directory)
        {
            inner.Save(directory);
            if (Fail)
            {
                File.WriteAllText(Path.Combine(directory, "model.safetensors"), "half");
                throw new IOException("No space left on device");
            }
        }
    }

    [Fact]
    public void AFailedSaveLeavesThePreviousCheckpointIntact()
    {
        var corpus = Corpus(8);
        string output = Path.Combine(_folder.Path, "checkpoint");
        var model = new FailingSaveModel(new BigramModel(1000, seed: 6));
        var trainer = new Trainer(model, new TestCausalObjective(999), corpus, new TrainerOptions { Steps = 5, BatchSize = 2, SequenceLength = 8 });
        trainer.TrainStep();
        trainer.SaveCheckpoint(output);
        byte[] weights = File.ReadAllBytes(Path.Combine(output, "model.safetensors"));
        byte[] state = File.ReadAllBytes(Path.Combine(output, Trainer.StateFileName));

        trainer.TrainStep();
        model.Fail = true;
        var error = Assert.Throws<IOException>(() => trainer.SaveCheckpoint(output));
        Assert.Equal("No space left on device", error.Message);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
        Assert.Equal(state, File.ReadAllBytes(Path.Combine(output, Trainer.StateFileName)));
        Assert.Equal(["checkpoint"], Directory.GetFileSystemEntries(_folder.Path).Select(Path.GetFileName));

        model.Fail = false;
        trainer.SaveCheckpoint(output);
        Assert.NotEqual(weights, File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
    }

    [Fact]
    public void ACrashBetweenTheTwoRenamesIsRecoveredFromTheMovedAsideCheckpoint()
    {
        string output = _folder.File("run");
        Directory.CreateDirectory(_folder.File(".run.old-12345"));
        File.WriteAllText(_folder.File(".run.old-12345/config.json"), "{\"step\": 3}");
        Assert.True(CheckpointFolder.Recover(output));
        Assert.Equal("{\"step\": 3}", File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.False(CheckpointFolder.Recover(output)); // nothing left to recover
        Assert.Equal(["run"], Directory.GetFileSystemEntries(_folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void ResumeRefusesAFolderWithoutTrainingStateOrWithOtherData()
    {
        var corpus = Corpus(8);
        var trainer = new Trainer(new BigramModel(1000, 1), new TestCausalObjective(999), corpus, new TrainerOptions { Steps = 2, BatchSize = 2, SequenceLength = 8 });
        var error = Assert.Throws<CheckpointException>(() => trainer.Resume(_folder.Path));
        Assert.Contains($"{_folder.Path}: no {Trainer.StateFileName}", error.Message);
        trainer.TrainStep();
        trainer.SaveCheckpoint(_folder.File("c"));
        var other = new Trainer(new BigramModel(1000, 1), new TestCausalObjective(999), Corpus(4), new TrainerOptions { Steps = 2, BatchSize = 2, SequenceLength = 4 });
        Assert.Contains("resume with the same --data, --seq and tokenizer", Assert.Throws<CheckpointException>(() => other.Resume(_folder.File("c"))).Message);
    }
}
