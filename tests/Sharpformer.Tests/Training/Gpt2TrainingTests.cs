using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>GPT-2 forward + backward: PyTorch goldens, finite differences, inference parity, save → load.</summary>
public class Gpt2TrainingTests
{
    private static readonly Gpt2Config Tiny = new(VocabSize: 23, MaxPositions: 8, HiddenSize: 8, LayerCount: 2, HeadCount: 2, InnerSize: 16);

    /// <summary>Two rows of 6 with right padding on row 1, labels = inputs with -100 at the padding (HF's convention).</summary>
    private static TrainingBatch PaddedBatch(int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        const int length = 6;
        var ids = TrainingAssert.RandomIds(rng, 2 * length, vocab);
        int[] mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
        var labels = ids.Select((id, i) => mask[i] == 1 ? id : TrainingBatch.IgnoreIndex).ToArray();
        return new TrainingBatch(2, length, ids, labels) { AttentionMask = mask };
    }

    [Fact]
    public void LossLogitsAndEveryGradientMatchPyTorch()
    {
        using var goldens = new Goldens("gpt2", "train_goldens.safetensors");
        var model = Gpt2TrainableModel.Load(Fixture.File("gpt2"));
        Assert.Equal(0.1f, model.Dropout.Attention); // from config.json; the goldens were made with dropout off
        model = new Gpt2TrainableModel(model.Config, (name, _) => model.Parameters.Single(p => p.Name == name).Value);
        var ids = goldens.Ints("batch.input_ids", out var shape);
        var batch = new TrainingBatch(shape[0], shape[1], ids, goldens.Ints("batch.labels")) { AttentionMask = goldens.Ints("batch.attention_mask") };

        var result = model.ForwardBackward(batch);

        Assert.True(Math.Abs(result.Loss - goldens.Floats("loss").Span[0]) <= 1e-5, $"loss {result.Loss} vs {goldens.Floats("loss").Span[0]}");
        Assert.Equal(batch.TargetCount, result.TargetCount);
        Goldens.AssertClose(goldens.Floats("logits").Span, model.Logits(batch), 1e-4f, "logits");
        var names = model.Parameters.Select(p => p.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal(40, names.Count);
        TrainingAssert.GradientsMatch(goldens, model.Parameters);
    }

    [Fact]
    public void GradientsMatchFiniteDifferencesOfTheWholeModel()
    {
        // Larger weights than N(0, 0.02) so every nonlinearity is exercised; float32 loss, float64 sums, step 1e-2.
        var model = new Gpt2TrainableModel(Tiny, RandomWeights.Create(3, 0.3f));
        var batch = PaddedBatch(Tiny.VocabSize, 4);
        TrainingAssert.GradientsMatchFiniteDifferences(model, batch, 5, absoluteTolerance: 5e-4, relativeTolerance: 5e-3, needsGradient: _ => false);
        Assert.Contains(model.Parameters, p => p.Gradient.Any(g => MathF.Abs(g) > 1e-2f));
    }

    [Fact]
    public void TrainingLogitsEqualInferenceLogits()
    {
        var model = Gpt2TrainableModel.CreateRandom(Tiny, 8);
        var batch = PaddedBatch(Tiny.VocabSize, 9);
        var inference = model.Model.Forward(batch.InputIds, batch.BatchSize, batch.Length, batch.AttentionMask).Logits.Span;
        Goldens.AssertClose(inference, model.Logits(batch), 1e-5f, "training vs inference logits");
    }

    [Fact]
    public void SavedCheckpointLoadsBackWithIdenticalLogits()
    {
        var model = Gpt2TrainableModel.CreateRandom(Tiny with { TieWordEmbeddings = true }, 10, new Gpt2Dropout(0.05f, 0.1f, 0.2f));
        var batch = PaddedBatch(Tiny.VocabSize, 11);
        TrainingAssert.WithSaved(model, directory =>
        {
            var loaded = Gpt2TrainableModel.Load(directory);
            Assert.Equal(model.Config, loaded.Config);
            Assert.Equal(model.Dropout, loaded.Dropout);
            Assert.Equal(model.Logits(batch), loaded.Logits(batch));
            using var checkpoint = Checkpoint.Open(directory);
            Assert.DoesNotContain("lm_head.weight", checkpoint.TensorNames); // tied: stored once, as HF
            using var inference = (Gpt2Model)Gpt2Model.Load(checkpoint);
            Assert.Equal(model.Model.Forward(batch.InputIds, 2, batch.Length, batch.AttentionMask).Logits.ToArray(),
                inference.Forward(batch.InputIds, 2, batch.Length, batch.AttentionMask).Logits.ToArray());
        });
    }

    [Fact]
    public void ParametersAreWritableCopiesInHfOrderWithDecayOnMatrices()
    {
        var model = Gpt2TrainableModel.Load(Fixture.File("gpt2"));
        var expected = model.Config.ExpectedTensors();
        Assert.Equal(expected.Select(t => t.Name), model.Parameters.Select(p => p.Name));
        Assert.All(model.Parameters, p => Assert.Equal(p.Value.Rank > 1, p.WeightDecay));
        var batch = PaddedBatch(model.Config.VocabSize, 12);
        var before = model.Logits(batch);
        model.Parameters.Single(p => p.Name == "transformer.ln_f.bias").Value.Span[0] += 1f;
        Assert.NotEqual(before, model.Logits(batch)); // the inference model sees the edited weights
    }

    [Fact]
    public void GradientsAccumulateWithTheirScale()
    {
        var batch = PaddedBatch(Tiny.VocabSize, 13);
        var once = Gpt2TrainableModel.CreateRandom(Tiny, 14);
        var twice = Gpt2TrainableModel.CreateRandom(Tiny, 14);
        var loss = once.ForwardBackward(batch, 1f);
        twice.ForwardBackward(batch, 0.25f);
        var again = twice.ForwardBackward(batch, 0.75f);
        Assert.Equal(loss, again);
        for (int i = 0; i < once.Parameters.Count; i++)
        {
            Goldens.AssertClose(once.Parameters[i].Gradient, twice.Parameters[i].Gradient, 1e-6f, once.Parameters[i].Name);
        }
    }

    [Fact]
    public void UnshiftedLabelsGiveTheSameLossAsTheShift()
    {
        var model = Gpt2TrainableModel.CreateRandom(Tiny, 15);
        var batch = PaddedBatch(Tiny.VocabSize, 16);
        var shifted = batch.Labels.Select((_, i) => i % batch.Length == batch.Length - 1 ? TrainingBatch.IgnoreIndex : batch.Labels[i + 1]).ToArray();
        var aligned = batch with { Labels = shifted, ShiftLabels = false };
        Assert.Equal(model.Evaluate(batch), model.Evaluate(aligned));
        Assert.Equal(batch.TargetCount, model.Evaluate(batch).TargetCount);
    }

    [Fact]
    public void DropoutIsSeededAndOffWhenEvaluating()
    {
        var dropout = new Gpt2Dropout(0.1f, 0.1f, 0.1f);
        var batch = PaddedBatch(Tiny.VocabSize, 17);
        var first = Gpt2TrainableModel.CreateRandom(Tiny, 18, dropout);
        var second = Gpt2TrainableModel.CreateRandom(Tiny, 18, dropout);
        var plain = Gpt2TrainableModel.CreateRandom(Tiny, 18);
        var trained = first.ForwardBackward(batch);
        Assert.Equal(trained, second.ForwardBackward(batch));
        Assert.NotEqual(trained, first.ForwardBackward(batch)); // the next step draws new masks
        Assert.Equal(plain.Evaluate(batch), first.Evaluate(batch));
        Assert.NotEqual(plain.ForwardBackward(batch).Loss, trained.Loss);
    }

    [Fact]
    public void BadBatchesAreRefusedWithClearErrors()
    {
        var model = Gpt2TrainableModel.CreateRandom(Tiny, 19);
        var batch = PaddedBatch(Tiny.VocabSize, 20);
        var error = Assert.Throws<ArgumentException>(() => model.ForwardBackward(batch with { Labels = [1, 2, 3] }));
        Assert.Contains("3 labels", error.Message, StringComparison.Ordinal);
        var labels = (int[])batch.Labels.Clone();
        labels[3] = 99;
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardBackward(batch with { Labels = labels }));
        Assert.Contains("label 99", outside.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { TargetLength = 3 }));
        var ids = (int[])batch.InputIds.Clone();
        ids[0] = 23;
        Assert.Contains("id 23", Assert.Throws<ArgumentOutOfRangeException>(() => model.Evaluate(batch with { InputIds = ids })).Message, StringComparison.Ordinal);
    }
}
