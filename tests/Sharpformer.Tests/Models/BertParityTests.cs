using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Models;

/// <summary>BERT against Hugging Face transformers 4.36 goldens (tiny random BertForPreTraining in Fixtures/bert).</summary>
public sealed class BertParityTests : IDisposable
{
    private const float Tolerance = 1e-4f;
    private readonly BertForMaskedLM _model = (BertForMaskedLM)ModelRegistry.Load(Fixture.File("bert"));
    private readonly Goldens _goldens = new("bert");

    public void Dispose()
    {
        _model.Dispose();
        _goldens.Dispose();
    }

    private MaskedLMOutput RunForwardBatch(out int[] shape) => _model.Forward(
        _goldens.Ints("forward_batch.input_ids", out shape), 2, 12,
        _goldens.Ints("forward_batch.token_type_ids"), _goldens.Ints("forward_batch.attention_mask"), outputHiddenStates: true);

    [Fact]
    public void PredictionLogitsNextSentenceLogitsAndPoolerMatchHf()
    {
        var output = RunForwardBatch(out var shape);
        Assert.Equal(new[] { shape[0], shape[1], 1000 }, output.Logits.Shape);
        Goldens.AssertClose(_goldens.Floats("forward_batch.prediction_logits").Span, output.Logits.Span, Tolerance, "prediction logits");
        Assert.NotNull(output.NextSentenceLogits);
        Goldens.AssertClose(_goldens.Floats("forward_batch.seq_relationship_logits").Span, output.NextSentenceLogits.Span, Tolerance, "NSP logits");
        Assert.NotNull(output.Encoder.PoolerOutput);
        Goldens.AssertClose(_goldens.Floats("forward_batch.pooler_output").Span, output.Encoder.PoolerOutput.Span, Tolerance, "pooler output");
        Goldens.AssertClose(_goldens.Floats("forward_batch.last_hidden_state").Span, output.Encoder.LastHiddenState.Span, Tolerance, "last hidden state");
    }

    [Fact]
    public void EveryHiddenStateMatchesHf()
    {
        var hiddenStates = RunForwardBatch(out _).Encoder.HiddenStates;
        Assert.NotNull(hiddenStates);
        Assert.Equal(_model.Config.LayerCount + 1, hiddenStates.Count);
        for (int i = 0; i < hiddenStates.Count; i++)
        {
            Goldens.AssertClose(_goldens.Floats($"forward_batch.hidden_states.{i}").Span, hiddenStates[i].Span, Tolerance, $"hidden_states.{i}");
        }
    }

    [Fact]
    public void APaddedBatchEqualsEachSentenceAlone()
    {
        int[] ids = _goldens.Ints("forward_batch.input_ids", out var shape);
        int[] types = _goldens.Ints("forward_batch.token_type_ids");
        int[] mask = _goldens.Ints("forward_batch.attention_mask");
        int length = shape[1];
        var batch = _model.Forward(ids, 2, length, types, mask);
        for (int row = 0; row < 2; row++)
        {
            int real = mask.Skip(row * length).Take(length).Sum();
            Assert.True(row == 0 || real < length, "row 1 of the fixture is padded");
            var alone = _model.Forward(ids.AsSpan(row * length, real).ToArray(), 1, real, types.AsSpan(row * length, real).ToArray());
            Goldens.AssertClose(alone.Logits.Span, batch.Logits.Span.Slice(row * length * 1000, real * 1000), Tolerance, $"row {row} logits");
            Goldens.AssertClose(alone.Encoder.PoolerOutput!.Span, batch.Encoder.PoolerOutput!.Span.Slice(row * 64, 64), Tolerance, $"row {row} pooler");
        }
    }

    [Fact]
    public void TheWeightNameTableMatchesTheCheckpoint()
    {
        using var checkpoint = Checkpoint.Open(Fixture.File("bert"));
        var expected = _model.Config.ExpectedTensors().Concat(_model.Config.ExpectedHeadTensors(nextSentence: true))
            .ToDictionary(t => t.Name, t => t.Shape);
        Assert.Equal(expected.Keys.Order(), checkpoint.TensorNames.Order());
        foreach (var (name, tensorShape) in expected)
        {
            Assert.Equal(tensorShape, checkpoint.GetInfo(name).Shape);
        }
        Assert.Equal(expected.Values.Sum(s => Tensor.ElementCount(s)), checkpoint.TensorNames.Sum(n => Tensor.ElementCount(checkpoint.GetInfo(n).Shape)));
    }

    [Fact]
    public void ClearErrorsForBadInputsAndForGeneration()
    {
        var tooLong = Assert.Throws<ArgumentException>(() => _model.Forward(new int[129], 1, 129));
        Assert.Contains("128 positions", tooLong.Message, StringComparison.Ordinal);
        var badType = Assert.Throws<ArgumentException>(() => _model.Forward([2, 5, 3], 1, 3, [0, 2, 0]));
        Assert.Contains("token type id 2", badType.Message, StringComparison.Ordinal);
        var generate = Assert.Throws<NotSupportedException>(() => _model.StartSession(null!, 1));
        Assert.Contains("cannot generate", generate.Message, StringComparison.Ordinal);
    }
}
