using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>XLNet two-stream forward + backward: finite differences, inference and HF parity, save → load.</summary>
public class XLNetTrainingTests
{
    private static readonly XLNetConfig Tiny = new(VocabSize: 23, HiddenSize: 8, LayerCount: 2, HeadCount: 2, HeadDim: 4, InnerSize: 16);

    /// <summary>
    /// Two rows of 6: a random perm_mask (each target hidden from itself), two targets per row, two segments, and
    /// padding at the end of row 1; labels [2, 2] with one ignored.
    /// </summary>
    private static TrainingBatch PermutationBatch(int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        const int length = 6, targets = 2;
        var ids = TrainingAssert.RandomIds(rng, 2 * length, vocab);
        var permMask = new float[2 * length * length];
        for (int i = 0; i < permMask.Length; i++)
        {
            permMask[i] = rng.NextInt(3) == 0 ? 1f : 0f;
        }
        var mapping = new float[2 * targets * length];
        int[][] positions = [[1, 4], [0, 3]];
        for (int b = 0; b < 2; b++)
        {
            for (int m = 0; m < targets; m++)
            {
                int position = positions[b][m];
                mapping[(b * targets + m) * length + position] = 1f;
                permMask[(b * length + position) * length + position] = 1f;
            }
        }
        int[] labels = [ids[1], ids[4], ids[length], TrainingBatch.IgnoreIndex];
        return new TrainingBatch(2, length, ids, labels)
        {
            PermutationMask = permMask,
            TargetMapping = mapping,
            PredictCount = targets,
            TokenTypeIds = [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1],
            AttentionMask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        };
    }

    /// <summary>Larger weights than N(0, 0.02), and random r_w/r_r/r_s biases, so every term is exercised.</summary>
    private static XLNetTrainableModel RandomModel(ulong seed)
    {
        var weights = RandomWeights.Create(seed, 0.3f);
        var rng = new Rng(seed + 100);
        return new XLNetTrainableModel(Tiny, (name, shape) =>
        {
            var tensor = weights(name, shape);
            if (name.Contains("rel_attn.r_", StringComparison.Ordinal) || name == "lm_loss.bias")
            {
                rng.FillNormal(tensor.Span, 0.3f);
            }
            return tensor;
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GradientsMatchFiniteDifferencesForEveryParameter(bool queryStream)
    {
        var model = RandomModel(3);
        var batch = PermutationBatch(Tiny.VocabSize, 4);
        if (!queryStream)
        {
            // Content stream only: labels [batch, length], no shift (HF XLNetLMHeadModel without target_mapping).
            batch = batch with { TargetMapping = null, PredictCount = 0, Labels = batch.InputIds.Select((id, i) => i == 11 ? TrainingBatch.IgnoreIndex : id).ToArray() };
        }
        // The content stream never reads mask_emb (only the query stream starts from it).
        TrainingAssert.GradientsMatchFiniteDifferences(model, batch, 5, absoluteTolerance: 5e-4, relativeTolerance: 5e-3,
            needsGradient: parameter => queryStream || parameter.Name != "transformer.mask_emb");
        Assert.Equal(2 + 2 * 17 + 1, model.Parameters.Count);
    }

    [Fact]
    public void TrainingLogitsEqualInferenceLogits()
    {
        var model = RandomModel(8);
        var batch = PermutationBatch(Tiny.VocabSize, 9);
        var inference = model.Model.Forward(batch.InputIds, 2, batch.Length, batch.PermutationMask, batch.TargetMapping, batch.PredictCount,
            batch.TokenTypeIds, batch.AttentionMask).Logits.Span;
        Goldens.AssertClose(inference, model.Logits(batch), 1e-5f, "query stream: training vs inference logits");
        var plain = batch with { TargetMapping = null, PredictCount = 0, Labels = batch.InputIds };
        Goldens.AssertClose(model.Model.Forward(plain.InputIds, 2, plain.Length, plain.PermutationMask, tokenTypeIds: plain.TokenTypeIds,
            attentionMask: plain.AttentionMask).Logits.Span, model.Logits(plain), 1e-5f, "content stream: training vs inference logits");
    }

    [Theory]
    [InlineData("perm_lm_last")]
    [InlineData("perm_lm_two_targets")]
    public void TrainingLogitsMatchHfOnTheFixture(string entry)
    {
        using var goldens = new Goldens("xlnet");
        var model = XLNetTrainableModel.Load(Fixture.File("xlnet"));
        int[] ids = goldens.Ints($"{entry}.input_ids", out var shape);
        var targets = goldens.Floats($"{entry}.target_mapping");
        var batch = new TrainingBatch(shape[0], shape[1], ids, new int[shape[0] * targets.Shape[1]])
        {
            PermutationMask = goldens.Floats($"{entry}.perm_mask").ToArray(),
            TargetMapping = targets.ToArray(),
            PredictCount = targets.Shape[1],
        };
        Goldens.AssertClose(goldens.Floats($"{entry}.logits").Span, model.Logits(batch), 1e-4f, $"{entry} logits");
    }

    [Fact]
    public void SavedCheckpointLoadsBackWithIdenticalLogits()
    {
        var model = RandomModel(10);
        var batch = PermutationBatch(Tiny.VocabSize, 11);
        TrainingAssert.WithSaved(model, directory =>
        {
            var loaded = (XLNetTrainableModel)TrainableModels.Load(directory);
            Assert.Equal(model.Config, loaded.Config);
            Assert.Equal(model.Logits(batch), loaded.Logits(batch));
            using var checkpoint = Checkpoint.Open(directory);
            Assert.DoesNotContain("lm_loss.weight", checkpoint.TensorNames); // tied to the word embedding, as HF
            Assert.Equal(model.Config.ExpectedTensors().Select(t => t.Name).Order(), checkpoint.TensorNames.Order());
        });
    }

    [Fact]
    public void ParametersAreWritableCopiesThatTheInferenceModelReads()
    {
        var model = XLNetTrainableModel.Load(Fixture.File("xlnet"));
        Assert.Equal(model.Config.ExpectedTensors().Select(t => t.Name), model.Parameters.Select(p => p.Name));
        var batch = PermutationBatch(model.Config.VocabSize, 12);
        var before = model.Logits(batch);
        model.Parameters.Single(p => p.Name == "transformer.layer.0.rel_attn.r_r_bias").Value.Span[0] += 1f;
        Assert.NotEqual(before, model.Logits(batch));
        Assert.Contains("labels must be", Assert.Throws<ArgumentException>(() => model.Evaluate(batch with { Labels = [1] })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnIdentityFactorisationOrderIsACausalLanguageModel()
    {
        // perm_mask hides j ≥ i from query i and every position is a target: position i predicts from the tokens before it.
        var model = RandomModel(13);
        const int length = 5;
        var permMask = new float[length * length];
        var mapping = new float[length * length];
        for (int i = 0; i < length; i++)
        {
            mapping[i * length + i] = 1f;
            for (int j = i; j < length; j++)
            {
                permMask[i * length + j] = 1f;
            }
        }
        int[] ids = [3, 7, 11, 2, 19];
        TrainingBatch Batch(int[] tokens) => new(1, length, tokens, tokens) { PermutationMask = permMask, TargetMapping = mapping, PredictCount = length };
        var before = model.Logits(Batch(ids));
        var after = model.Logits(Batch([3, 7, 11, 5, 19])); // change token 3
        int vocab = Tiny.VocabSize;
        // Position 0's query sees no key, so (as HF's finfo.min softmax) it averages every value: the property starts at 1.
        Assert.Equal(before.AsSpan(vocab, 3 * vocab).ToArray(), after.AsSpan(vocab, 3 * vocab).ToArray()); // positions 1..3 never see it
        Assert.NotEqual(before.AsSpan(4 * vocab).ToArray(), after.AsSpan(4 * vocab).ToArray());   // position 4 does
    }
}
