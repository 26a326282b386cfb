using Sharpformer.IO;
using Sharpformer.Layers;
using Sharpformer.Models;
using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>BART and T5 (v1.0, v1.1) forward + backward: PyTorch goldens, finite differences, inference parity, save → load.</summary>
public class EncoderDecoderTrainingTests
{
    private static readonly BartConfig TinyBart = new(VocabSize: 17, MaxPositions: 12, HiddenSize: 8, EncoderLayerCount: 2, DecoderLayerCount: 2,
        EncoderHeadCount: 2, DecoderHeadCount: 2, EncoderFfnSize: 12, DecoderFfnSize: 12, ScaleEmbedding: true);

    private static readonly T5Config TinyT5 = new(VocabSize: 17, HiddenSize: 8, KeyValueSize: 4, FfnSize: 12, EncoderLayerCount: 2, DecoderLayerCount: 2,
        HeadCount: 2, RelativeBuckets: 8, RelativeMaxDistance: 16);

    private static readonly T5Config TinyT5V11 = TinyT5 with { GatedFeedForward = true, Activation = Activation.GeluTanh, TieWordEmbeddings = false };

    private static EncoderDecoderTrainableModel Tiny(string family, float scale, ulong seed) => family switch
    {
        "bart" => new BartTrainableModel(TinyBart, RandomWeights.Create(seed, scale)),
        "t5" => new T5TrainableModel(TinyT5, RandomWeights.Create(seed, scale)),
        _ => new T5TrainableModel(TinyT5V11, RandomWeights.Create(seed, scale)),
    };

    private static EncoderDecoderModel InferenceOf(EncoderDecoderTrainableModel model) =>
        model is BartTrainableModel bart ? bart.Model : ((T5TrainableModel)model).Model;

    /// <summary>Sources of 5 (row 1 padded after 3), targets of 4 (row 1's last label -100).</summary>
    private static TrainingBatch Batch(int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        var ids = Enumerable.Range(0, 10).Select(_ => 3 + rng.NextInt(vocab - 3)).ToArray();
        var labels = Enumerable.Range(0, 8).Select(_ => 3 + rng.NextInt(vocab - 3)).ToArray();
        labels[7] = TrainingBatch.IgnoreIndex;
        return new TrainingBatch(2, 5, ids, labels) { TargetLength = 4, AttentionMask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0] };
    }

    [Theory]
    [InlineData("bart", 91)]
    [InlineData("t5", 47)]
    [InlineData("t5_v1_1", 52)]
    public void LossLogitsAndEveryGradientMatchPyTorch(string fixture, int expectedCount)
    {
        using var goldens = new Goldens(fixture, "train_goldens.safetensors");
        // The goldens were made with every dropout off; config.json names 0.1.
        using var checkpoint = Checkpoint.Open(Fixture.File(fixture));
        ITrainableModel model = checkpoint.Config.ModelType == "bart"
            ? new BartTrainableModel(BartConfig.FromHf(checkpoint.Config), checkpoint.Read)
            : new T5TrainableModel(T5Config.FromHf(checkpoint.Config), checkpoint.Read);
        var encoderDecoder = (EncoderDecoderTrainableModel)model;
        var ids = goldens.Ints("batch.input_ids", out var shape);
        var labels = goldens.Ints("batch.labels", out var labelShape);
        var batch = new TrainingBatch(shape[0], shape[1], ids, labels) { TargetLength = labelShape[1], AttentionMask = goldens.Ints("batch.attention_mask") };
        Assert.Equal(goldens.Ints("batch.decoder_input_ids_derived"), encoderDecoder.DecoderInputs(batch));

        var result = model.ForwardBackward(batch);

        Assert.True(Math.Abs(result.Loss - goldens.Floats("loss").Span[0]) <= 1e-5, $"loss {result.Loss} vs {goldens.Floats("loss").Span[0]}");
        Assert.Equal(batch.TargetCount, result.TargetCount);
        Goldens.AssertClose(goldens.Floats("logits").Span, encoderDecoder.Logits(batch), 1e-4f, "logits");
        TrainingAssert.GradientsMatch(goldens, model.Parameters);
        Assert.Equal(expectedCount, model.Parameters.Count);
        Assert.DoesNotContain(model.Parameters, p => p.Name == "final_logits_bias"); // a buffer, not trained
    }

    [Theory]
    [InlineData("bart")]
    [InlineData("t5")]
    [InlineData("t5_v1_1")]
    public void GradientsMatchFiniteDifferencesOfTheWholeModel(string family)
    {
        // Larger weights than the initialisers so every nonlinearity is exercised.
        var model = Tiny(family, 0.3f, 3);
        // ReLU (T5 v1.0) has kinks a wide step can cross: a narrower one there.
        TrainingAssert.GradientsMatchFiniteDifferences(model, Batch(17, 4), 5, step: family == "t5" ? 2e-3f : 1e-2f);
    }

    [Theory]
    [InlineData("bart")]
    [InlineData("t5")]
    [InlineData("t5_v1_1")]
    public void TrainingLogitsEqualInferenceLogits(string family)
    {
        var model = Tiny(family, 0.1f, 8);
        var batch = Batch(17, 9);
        var inference = InferenceOf(model).Forward(batch.InputIds, batch.AttentionMask, 2, batch.Length, model.DecoderInputs(batch), batch.TargetLength);
        Goldens.AssertClose(inference.Logits.Span, model.Logits(batch), 1e-5f, "training vs inference logits");
    }

    [Theory]
    [InlineData("bart")]
    [InlineData("t5")]
    [InlineData("t5_v1_1")]
    public void SavedCheckpointLoadsBackWithIdenticalLogits(string family)
    {
        var model = Tiny(family, 0.1f, 10);
        var batch = Batch(17, 11);
        TrainingAssert.WithSaved(model, directory =>
        {
            var loaded = (EncoderDecoderTrainableModel)TrainableModels.Load(directory);
            Assert.Equal(model.Parameters.Select(p => p.Name), loaded.Parameters.Select(p => p.Name));
            Assert.Equal(model.Logits(batch), loaded.Logits(batch));
            switch (model, loaded)
            {
                case (BartTrainableModel bart, BartTrainableModel bartLoaded):
                    Assert.Equal(bart.Config, bartLoaded.Config);
                    break;
                case (T5TrainableModel t5, T5TrainableModel t5Loaded):
                    Assert.Equal(t5.Config, t5Loaded.Config);
                    break;
                default:
                    Assert.Fail("loaded a different family");
                    break;
            }
            using var checkpoint = Checkpoint.Open(directory);
            Assert.DoesNotContain(checkpoint.TensorNames, name => name.Contains("embed_tokens", StringComparison.Ordinal)); // tied: stored once
            using var inference = (EncoderDecoderModel)ModelRegistry.Load(checkpoint);
            var expected = InferenceOf(model).Forward(batch.InputIds, batch.AttentionMask, 2, batch.Length, model.DecoderInputs(batch), batch.TargetLength);
            Assert.Equal(expected.Logits.ToArray(), inference.Forward(batch.InputIds, batch.AttentionMask, 2, batch.Length, model.DecoderInputs(batch), batch.TargetLength).Logits.ToArray());
        });
    }

    [Fact]
    public void RegistryPicksTheFamilyByModelTypeWithTheConfigDropouts()
    {
        Assert.Equal(0.1f, Assert.IsType<BartTrainableModel>(TrainableModels.Load(Fixture.File("bart"))).Dropout.Hidden);
        Assert.True(Assert.IsType<T5TrainableModel>(TrainableModels.Load(Fixture.File("t5_v1_1"))).Config.GatedFeedForward);
        Assert.IsType<BertTrainableModel>(TrainableModels.Load(Fixture.File("bert")));
        Assert.IsType<Gpt2TrainableModel>(TrainableModels.Load(Fixture.File("gpt2")));
        using var checkpoint = Checkpoint.Open(Fixture.File("t5"));
        var created = Assert.IsType<T5TrainableModel>(TrainableModels.Create(checkpoint.Config, 1));
        Assert.Equal(T5Config.FromHf(checkpoint.Config), created.Config);
        Assert.IsType<XLNetTrainableModel>(TrainableModels.Load(Fixture.File("xlnet")));
        Assert.Equal("gpt_neo", TrainableModels.Load(Fixture.File("gpt_neo")).ModelType);
        var llama = HfConfig.Parse("""{"model_type": "llama"}""", "test config");
        Assert.Contains("'llama' cannot be trained", Assert.Throws<CheckpointException>(() => TrainableModels.Create(llama, 1)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FinalLogitsBiasIsSavedButNotTrained()
    {
        var weights = RandomWeights.Create(12);
        var model = new BartTrainableModel(TinyBart, (name, shape) =>
        {
            var tensor = weights(name, shape);
            if (name == "final_logits_bias")
            {
                tensor.Span.Fill(0.5f);
            }
            return tensor;
        });
        var batch = Batch(17, 13);
        var withBias = model.Logits(batch);
        model.ForwardBackward(batch);
        Assert.DoesNotContain(model.Parameters, p => p.Name == "final_logits_bias");
        TrainingAssert.WithSaved(model, directory =>
        {
            using var checkpoint = Checkpoint.Open(directory);
            Assert.All(checkpoint.Read("final_logits_bias", [1, 17]).ToArray(), value => Assert.Equal(0.5f, value));
            Assert.Equal(withBias, ((EncoderDecoderTrainableModel)TrainableModels.Load(directory)).Logits(batch));
        });
    }

    [Fact]
    public void GivenDecoderInputsReplaceTheShiftAndGradientsReachTheEncoder()
    {
        var model = Tiny("t5", 0.1f, 14);
        var batch = Batch(17, 15);
        var derived = model.DecoderInputs(batch);
        Assert.Equal([0, batch.Labels[0], batch.Labels[1], batch.Labels[2]], derived[..4]); // start token 0, then labels shifted
        Assert.Equal(model.Evaluate(batch), model.Evaluate(batch with { DecoderInputIds = derived }));
        var other = derived.Select(id => (id + 1) % 17).ToArray();
        Assert.NotEqual(model.Evaluate(batch).Loss, model.Evaluate(batch with { DecoderInputIds = other }).Loss);
        model.ForwardBackward(batch);
        // Cross-attention carries the loss into every encoder layer.
        Assert.Contains(model.Parameters, p => p.Name == "encoder.block.0.layer.1.DenseReluDense.wi.weight" && p.Gradient.Any(g => g != 0f));
        Assert.Contains(model.Parameters, p => p.Name == "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" && p.Gradient.Any(g => g != 0f));
    }

    [Fact]
    public void DropoutIsSeededAndOffWhenEvaluating()
    {
        var batch = Batch(17, 16);
        var weights = RandomWeights.Create(17);
        T5TrainableModel Make(float rate) => new(TinyT5, RandomWeights.Create(17), new T5Dropout(rate), dropoutSeed: 3);
        var first = Make(0.2f);
        var second = Make(0.2f);
        var plain = Make(0f);
        var trained = first.ForwardBackward(batch);
        Assert.Equal(trained, second.ForwardBackward(batch));
        Assert.NotEqual(trained, first.ForwardBackward(batch));
        Assert.Equal(plain.Evaluate(batch), first.Evaluate(batch));
        Assert.NotEqual(plain.ForwardBackward(batch).Loss, trained.Loss);
        var bart = new BartTrainableModel(TinyBart, weights, new BartDropout(0.2f, 0.1f, 0.1f), 3);
        Assert.NotEqual(bart.ForwardBackward(batch).Loss, bart.Evaluate(batch).Loss);
    }

    [Fact]
    public void BadBatchesAreRefusedWithClearErrors()
    {
        var model = Tiny("bart", 0.02f, 18);
        var batch = Batch(17, 19);
        Assert.Contains("TargetLength", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { TargetLength = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("labels hold 3", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { Labels = [1, 2, 3] })).Message, StringComparison.Ordinal);
        Assert.Contains("decoder input ids hold 2", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { DecoderInputIds = [1, 2] })).Message, StringComparison.Ordinal);
        Assert.Contains("visibility", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { Visibility = new byte[50] })).Message, StringComparison.Ordinal);
        var ids = (int[])batch.InputIds.Clone();
        ids[2] = 17;
        Assert.Contains("token id 17", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { InputIds = ids })).Message, StringComparison.Ordinal);
        var labels = (int[])batch.Labels.Clone();
        labels[0] = 40;
        Assert.Contains("40", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(batch with { Labels = labels, DecoderInputIds = model.DecoderInputs(batch) })).Message, StringComparison.Ordinal);
    }
}
