using Sharpformer.Tokenizers;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>
/// Issue 5 item 7: each objective trains its tiny preset (catalog row, bundled tokenizer) for a few dozen steps on
/// the Austen sample and the held-out loss, scored on the same noised batches before and after, falls clearly.
/// </summary>
public sealed class ObjectiveTrainingTests
{
    [Theory]
    [InlineData("clm", "gpt2-tiny", 0.5)]
    [InlineData("mlm", "bert-tiny", 0.5)]
    [InlineData("unilm", "bert-tiny", 0.5)]
    [InlineData("denoise", "bart-tiny", 0.5)]
    [InlineData("span", "t5-tiny", 0.3)]
    [InlineData("plm", "xlnet-tiny", 0.5)]
    public void HeldOutLossFallsAfterAFewDozenSteps(string objectiveName, string presetName, double minimumDrop)
    {
        var (before, after) = TrainPreset(objectiveName, presetName, steps: 30);
        Assert.True(before - after > minimumDrop, $"{objectiveName} on {presetName}: held-out loss {before:0.000} → {after:0.000}, expected a drop of more than {minimumDrop}");
    }

    [Fact]
    public void ObjectiveNamesTheSpecialTokenItsTokenizerLacks()
    {
        // GPT-2's byte-level BPE has no [MASK], <mask> or <extra_id_0>.
        var gpt2 = Tokenizer.FromFolder(CorpusTests.TinyTokenizerFolder);
        Assert.Contains("[CLS]", Assert.Throws<ArgumentException>(() => TrainingCatalog.CreateObjective("mlm", gpt2, gpt2.VocabSize)).Message, StringComparison.Ordinal);
        Assert.Contains("<s>", Assert.Throws<ArgumentException>(() => TrainingCatalog.CreateObjective("denoise", gpt2, gpt2.VocabSize)).Message, StringComparison.Ordinal);
        Assert.Contains("</s>", Assert.Throws<ArgumentException>(() => TrainingCatalog.CreateObjective("span", gpt2, gpt2.VocabSize)).Message, StringComparison.Ordinal);
        var bert = PresetTokenizer(TrainingCatalog.Preset("bert-tiny"));
        Assert.Contains("<|endoftext|>", Assert.Throws<ArgumentException>(() => TrainingCatalog.CreateObjective("clm", bert, bert.VocabSize)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BundledTokenizersHaveTheSpecialTokensTheirObjectivesNeed()
    {
        var bert = PresetTokenizer(TrainingCatalog.Preset("bert-tiny"));
        Assert.Equal([0, 1, 2, 3, 4], new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Select(token => bert.TokenToId(token) ?? -1));
        var bart = PresetTokenizer(TrainingCatalog.Preset("bart-tiny"));
        Assert.Equal([0, 1, 2, 3, 1003], new[] { "<s>", "<pad>", "</s>", "<unk>", "<mask>" }.Select(token => bart.TokenToId(token) ?? -1));
        Assert.Equal(1004, bart.VocabSize);
        var t5 = PresetTokenizer(TrainingCatalog.Preset("t5-tiny"));
        Assert.Equal(1099, t5.TokenToId("<extra_id_0>"));
        Assert.Equal(1000, t5.TokenToId("<extra_id_99>"));
    }

    internal static Tokenizer PresetTokenizer(TrainingPreset preset) =>
        preset.DefaultTokenizer is { } folder ? Tokenizer.FromFolder(Path.Combine(AppContext.BaseDirectory, "models", folder)) : CorpusTests.TinyTokenizer;

    /// <summary>Held-out loss of a fresh preset model before and after <paramref name="steps"/> steps (same eval batches).</summary>
    internal static (double Before, double After) TrainPreset(string objectiveName, string presetName, int steps)
    {
        var preset = TrainingCatalog.Preset(presetName);
        var tokenizer = PresetTokenizer(preset);
        int vocabSize = TrainingCatalog.PresetVocabSize(preset, tokenizer);
        var objective = TrainingCatalog.CreateObjective(objectiveName, tokenizer, vocabSize);
        var config = TrainingCatalog.PresetConfig(preset, vocabSize, TrainingCatalog.PresetSpecialIds(preset.ModelType, tokenizer, objective));
        var options = new TrainerOptions
        {
            Steps = steps, BatchSize = 4, SequenceLength = 32, LearningRate = 3e-3, WarmupSteps = 3, EvalBatches = 2, Seed = 5,
        };
        var corpus = TokenizedCorpus.Load(Fixture.File("corpus", "austen-sample.txt"), tokenizer, objective, options.SequenceLength, 0.1);
        var model = TrainingCatalog.ModelKind(config.ModelType, presetName).CreateRandom(config, 5);
        var trainer = new Trainer(model, objective, corpus, options);
        double before = trainer.Evaluate()!.Loss;
        for (int step = 0; step < steps; step++)
        {
            trainer.TrainStep();
        }
        return (before, trainer.Evaluate()!.Loss);
    }
}
