using Sharpformer.Models;
using Sharpformer.Tests.Tokenizers;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;

namespace Sharpformer.Tests.Training;

/// <summary>The trainer on the real GPT-2 trainable (dropout on): resume after a crash repeats the uninterrupted losses.</summary>
public sealed class Gpt2TrainerTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void ResumedGpt2RunWithDropoutRepeatsTheUninterruptedLosses()
    {
        var config = TrainingCatalog.PresetConfig(TrainingCatalog.Preset("gpt2-tiny"), 1000);
        var objective = new CausalLmObjective(999, 1000);
        var corpus = TokenizedCorpus.Create("sample", [new CorpusDocument("sample", TrainerTests.SampleText())], CorpusTests.TinyTokenizer, objective, 16, 0.1);
        var options = new TrainerOptions { Steps = 4, BatchSize = 2, SequenceLength = 16, LearningRate = 3e-3, WarmupSteps = 1, SaveEvery = 2, EvalBatches = 1, Seed = 8 };
        var kind = TrainingCatalog.ModelKind("gpt2", "test");
        Assert.Equal(0.1f, Gpt2Dropout.FromHf(config).Residual); // HF's default dropout is on

        var straight = new List<double>();
        new Trainer(kind.CreateRandom(config, 8), objective, corpus, options).Run(_folder.File("a"), progress: (step, _) => straight.Add(step.Loss));

        string interrupted = _folder.File("b");
        Assert.Throws<OperationCanceledException>(() => new Trainer(kind.CreateRandom(config, 8), objective, corpus, options)
            .Run(interrupted, progress: (step, _) => { if (step.Step == 3) { throw new OperationCanceledException(); } }));
        var resumed = new Trainer(kind.Load(interrupted, 99), objective, corpus, options);
        resumed.Resume(interrupted);
        var after = new List<double>();
        resumed.Run(interrupted, progress: (step, _) => after.Add(step.Loss));
        Assert.Equal(straight[2..], after);
        Assert.NotEqual(straight[2], straight[3]);
    }
}
