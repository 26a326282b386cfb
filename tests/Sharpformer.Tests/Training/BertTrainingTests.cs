using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>BERT forward + backward: PyTorch goldens (MLM and pretraining), finite differences, inference parity, save → load, UniLM masks.</summary>
public class BertTrainingTests
{
    private static readonly BertConfig Tiny = new(VocabSize: 19, HiddenSize: 8, LayerCount: 2, HeadCount: 2, IntermediateSize: 12, MaxPositions: 10, TypeVocabSize: 2);

    private static readonly string[] NextSentenceParameters = ["bert.pooler.dense.weight", "bert.pooler.dense.bias", "cls.seq_relationship.weight", "cls.seq_relationship.bias"];

    /// <summary>Two rows of 6, two segments, right padding on row 1, four masked positions.</summary>
    private static TrainingBatch Batch(int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        const int length = 6;
        var ids = TrainingAssert.RandomIds(rng, 2 * length, vocab);
        int[] mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
        int[] types = [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0];
        var labels = Enumerable.Repeat(TrainingBatch.IgnoreIndex, ids.Length).ToArray();
        foreach (int position in new[] { 1, 4, 7, 9 })
        {
            labels[position] = rng.NextInt(vocab);
        }
        return new TrainingBatch(2, length, ids, labels) { AttentionMask = mask, TokenTypeIds = types };
    }

    private static (BertTrainableModel Model, TrainingBatch Batch) FromGoldens(Goldens goldens)
    {
        var loaded = BertTrainableModel.Load(Fixture.File("bert"));
        Assert.Equal(0.1f, loaded.Dropout.Hidden); // from config.json; the goldens were made with dropout off
        var model = new BertTrainableModel(loaded.Config, (name, _) => loaded.Parameters.Single(p => p.Name == name).Value, nextSentenceHead: true);
        var ids = goldens.Ints("batch.input_ids", out var shape);
        var batch = new TrainingBatch(shape[0], shape[1], ids, goldens.Ints("batch.labels"))
        {
            AttentionMask = goldens.Ints("batch.attention_mask"),
            TokenTypeIds = goldens.Ints("batch.token_type_ids"),
        };
        return (model, batch);
    }

    [Fact]
    public void MaskedLMLossLogitsAndEveryGradientMatchPyTorch()
    {
        using var goldens = new Goldens("bert", "train_goldens.safetensors");
        var (model, batch) = FromGoldens(goldens);

        var result = model.ForwardBackward(batch);

        Assert.True(Math.Abs(result.Loss - goldens.Floats("loss").Span[0]) <= 1e-5, $"loss {result.Loss} vs {goldens.Floats("loss").Span[0]}");
        Assert.Equal(7, result.TargetCount);
        Goldens.AssertClose(goldens.Floats("logits").Span, model.Forward(batch).Logits.Value, 1e-4f, "logits");
        // BertForMaskedLM has no pooler or NSP head: ours exist but get no gradient without NSP labels.
        TrainingAssert.GradientsMatch(goldens, model.Parameters.Where(p => !NextSentenceParameters.Contains(p.Name)));
        Assert.All(model.Parameters.Where(p => NextSentenceParameters.Contains(p.Name)), p => Assert.All(p.Gradient, g => Assert.Equal(0f, g)));
        Assert.Equal(model.Config.ExpectedTensors().Count + model.Config.ExpectedHeadTensors(true).Count, model.Parameters.Count);
    }

    [Fact]
    public void PretrainingLossAndNextSentenceGradientsMatchPyTorch()
    {
        using var goldens = new Goldens("bert", "train_goldens.safetensors");
        var (model, batch) = FromGoldens(goldens);
        batch = batch with { NextSentenceLabels = goldens.Ints("batch.next_sentence_label") };

        var result = model.ForwardBackward(batch);

        Assert.True(Math.Abs(result.Loss - goldens.Floats("pretraining.loss").Span[0]) <= 1e-5, $"loss {result.Loss} vs {goldens.Floats("pretraining.loss").Span[0]}");
        Assert.Equal(batch.TargetCount, result.TargetCount);
        Goldens.AssertClose(goldens.Floats("pretraining.seq_relationship_logits").Span, model.Forward(batch).NextSentenceLogits!.Value, 1e-4f, "NSP logits");
        TrainingAssert.GradientsMatch(goldens, model.Parameters.Where(p => NextSentenceParameters.Contains(p.Name)), "pretraining.grad.");
    }

    [Fact]
    public void GradientsMatchFiniteDifferencesOfTheWholeModel()
    {
        // Larger weights than N(0, 0.02) so every nonlinearity is exercised; NSP labels so the pooler and head train too.
        var model = new BertTrainableModel(Tiny, RandomWeights.Create(3, 0.3f));
        var batch = Batch(Tiny.VocabSize, 4) with { NextSentenceLabels = [1, 0] };
        TrainingAssert.GradientsMatchFiniteDifferences(model, batch, 5);
    }

    [Fact]
    public void TrainingLogitsEqualInferenceLogits()
    {
        var model = BertTrainableModel.CreateRandom(Tiny, 8);
        var batch = Batch(Tiny.VocabSize, 9) with { NextSentenceLabels = [0, 1] };
        var inference = model.Model.Forward(batch.InputIds, batch.BatchSize, batch.Length, batch.TokenTypeIds, batch.AttentionMask);
        var training = model.Forward(batch);
        Goldens.AssertClose(inference.Logits.Span, training.Logits.Value, 1e-5f, "training vs inference logits");
        Goldens.AssertClose(inference.NextSentenceLogits!.Span, training.NextSentenceLogits!.Value, 1e-5f, "NSP logits");
    }

    [Fact]
    public void SavedCheckpointLoadsBackWithIdenticalLogits()
    {
        var model = BertTrainableModel.CreateRandom(Tiny, 10, new BertDropout(0.2f, 0.05f));
        var batch = Batch(Tiny.VocabSize, 11);
        model.ForwardBackward(batch); // dropout on: the weights must not change
        TrainingAssert.WithSaved(model, directory =>
        {
            var loaded = BertTrainableModel.Load(directory);
            Assert.Equal(model.Config, loaded.Config);
            Assert.Equal(model.Dropout, loaded.Dropout);
            Assert.Equal(model.Parameters.Select(p => p.Name), loaded.Parameters.Select(p => p.Name));
            Assert.Equal(model.Forward(batch).Logits.Value, loaded.Forward(batch).Logits.Value);
            using var checkpoint = Checkpoint.Open(directory);
            Assert.DoesNotContain("cls.predictions.decoder.weight", checkpoint.TensorNames); // tied: stored once, as HF
            using var inference = BertForMaskedLM.Load(checkpoint);
            Assert.Equal(model.Forward(batch).Logits.Value, inference.Forward(batch.InputIds, 2, batch.Length, batch.TokenTypeIds, batch.AttentionMask).Logits.ToArray());
        });
    }

    [Fact]
    public void VisibilityMatrixHidesKeysAndCombinesWithPadding()
    {
        var model = BertTrainableModel.CreateRandom(Tiny, 12);
        var batch = Batch(Tiny.VocabSize, 13);
        int length = batch.Length;
        // All-visible equals no matrix; a causal (UniLM left-to-right) matrix makes position t blind to later tokens.
        var everything = Enumerable.Repeat((byte)1, 2 * length * length).ToArray();
        Assert.Equal(model.Forward(batch).Logits.Value, model.Forward(batch with { Visibility = everything }).Logits.Value);
        var causal = new byte[2 * length * length];
        for (int i = 0; i < causal.Length; i++)
        {
            causal[i] = (byte)(i % length <= i / length % length ? 1 : 0);
        }
        var changed = (int[])batch.InputIds.Clone();
        changed[3] = (changed[3] + 1) % Tiny.VocabSize;
        var before = model.Forward(batch with { Visibility = causal }).Logits.Value;
        var after = model.Forward(batch with { Visibility = causal, InputIds = changed }).Logits.Value;
        int vocab = Tiny.VocabSize;
        Assert.Equal(before.AsSpan(0, 3 * vocab).ToArray(), after.AsSpan(0, 3 * vocab).ToArray());
        Assert.NotEqual(before.AsSpan(3 * vocab, vocab).ToArray(), after.AsSpan(3 * vocab, vocab).ToArray());
        // Padding still applies under a visibility matrix: row 1's padded keys (positions 4, 5) change nothing.
        var padded = (int[])batch.InputIds.Clone();
        padded[length + 5] = (padded[length + 5] + 1) % vocab;
        var withMatrix = model.Forward(batch with { Visibility = everything }).Logits.Value;
        var paddedChanged = model.Forward(batch with { Visibility = everything, InputIds = padded }).Logits.Value;
        Assert.Equal(withMatrix.AsSpan(length * vocab, 4 * vocab).ToArray(), paddedChanged.AsSpan(length * vocab, 4 * vocab).ToArray());
        // Token types matter.
        Assert.NotEqual(model.Forward(batch).Logits.Value, model.Forward(batch with { TokenTypeIds = null }).Logits.Value);
    }

    [Fact]
    public void NextSentenceLabelsAloneStillTrainThePoolerAndHead()
    {
        var model = BertTrainableModel.CreateRandom(Tiny, 17);
        var batch = Batch(Tiny.VocabSize, 18);
        batch = batch with { Labels = [.. batch.Labels.Select(_ => TrainingBatch.IgnoreIndex)], NextSentenceLabels = [1, 0] };
        var result = model.ForwardBackward(batch);
        Assert.Equal(0, result.TargetCount);
        Assert.True(result.Loss > 0);
        Assert.Contains(model.Parameters, p => p.Name == "cls.seq_relationship.weight" && p.Gradient.Any(g => g != 0f));
        Assert.All(model.Parameters.Single(p => p.Name == "cls.predictions.bias").Gradient, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void BadBatchesAreRefusedWithClearErrors()
    {
        var model = BertTrainableModel.CreateRandom(Tiny, 14);
        var batch = Batch(Tiny.VocabSize, 15);
        Assert.Contains("3 labels", Assert.Throws<ArgumentException>(() => model.ForwardBackward(batch with { Labels = [1, 2, 3] })).Message, StringComparison.Ordinal);
        Assert.Contains("token type", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { TokenTypeIds = [.. batch.TokenTypeIds!.Select(_ => 2)] })).Message, StringComparison.Ordinal);
        Assert.Contains("next-sentence", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { NextSentenceLabels = [1] })).Message, StringComparison.Ordinal);
        Assert.Contains("encoder", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { TargetLength = 3 })).Message, StringComparison.Ordinal);
        Assert.Contains("visibility", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { Visibility = new byte[5] })).Message, StringComparison.Ordinal);
        var withoutHead = new BertTrainableModel(Tiny, RandomWeights.Create(16), nextSentenceHead: false);
        Assert.Contains("NSP head", Assert.Throws<InvalidOperationException>(() => withoutHead.Evaluate(batch with { NextSentenceLabels = [0, 1] })).Message, StringComparison.Ordinal);
    }
}
