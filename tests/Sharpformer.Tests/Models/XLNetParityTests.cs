using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Models;

/// <summary>XLNetLMHeadModel (two-stream relative attention) against HF transformers 4.36 goldens in Fixtures/xlnet.</summary>
public sealed class XLNetParityTests : IDisposable
{
    private const float Tolerance = 1e-4f;
    private readonly XLNetModel _model = (XLNetModel)ModelRegistry.Load(Fixture.File("xlnet"));
    private readonly Goldens _goldens = new("xlnet");

    public void Dispose()
    {
        _model.Dispose();
        _goldens.Dispose();
    }

    [Fact]
    public void WeightNamesAndShapesMatchTheCheckpointHeader()
    {
        using var file = SafetensorsFile.Open(Fixture.File("xlnet", "model.safetensors"));
        var expected = _model.Config.ExpectedTensors().Select(t => $"{t.Name} {Tensor.FormatShape(t.Shape)}").Order().ToArray();
        var actual = file.Names.Select(name => $"{name} {Tensor.FormatShape(file.GetInfo(name).Shape)}").Order().ToArray();
        Assert.Equal(expected, actual);
        Assert.Equal("xlnet", _model.ModelType);
    }

    [Fact]
    public void PlainForwardLogitsAndHiddenStatesMatchHf()
    {
        int[] ids = _goldens.Ints("forward_plain.input_ids", out var shape);
        var output = _model.Forward(ids, shape[0], shape[1], outputHiddenStates: true);
        Goldens.AssertClose(_goldens.Floats("forward_plain.logits").Span, output.Logits.Span, Tolerance, "logits");
        Assert.NotNull(output.HiddenStates);
        Assert.Equal(3, output.HiddenStates.Count);
        for (int i = 0; i < 3; i++)
        {
            Goldens.AssertClose(_goldens.Floats($"forward_plain.hidden_states.{i}").Span, output.HiddenStates[i].Span, Tolerance, $"hidden_states.{i}");
        }
    }

    [Theory]
    [InlineData("perm_lm_last")]
    [InlineData("perm_lm_two_targets")]
    public void QueryStreamLogitsWithPermMaskAndTargetMappingMatchHf(string entry)
    {
        int[] ids = _goldens.Ints($"{entry}.input_ids", out var shape);
        var permMask = _goldens.Floats($"{entry}.perm_mask").ToArray();
        var targets = _goldens.Floats($"{entry}.target_mapping");
        var output = _model.Forward(ids, shape[0], shape[1], permMask, targets.ToArray(), targets.Shape[1]);
        Assert.Equal(new[] { 1, targets.Shape[1], 1000 }, output.Logits.Shape);
        Goldens.AssertClose(_goldens.Floats($"{entry}.logits").Span, output.Logits.Span, Tolerance, $"{entry} logits");
    }

    [Fact]
    public void TheQueryStreamCannotSeeTheTokenItPredicts()
    {
        // perm_lm_last hides token 7 from every query: changing it must not change the prediction at 7.
        int[] ids = _goldens.Ints("perm_lm_last.input_ids", out var shape);
        var permMask = _goldens.Floats("perm_lm_last.perm_mask").ToArray();
        var targets = _goldens.Floats("perm_lm_last.target_mapping").ToArray();
        var before = _model.Forward(ids, 1, shape[1], permMask, targets, 1).Logits.ToArray();
        int[] changed = [.. ids];
        changed[7] = (changed[7] + 123) % 1000;
        var after = _model.Forward(changed, 1, shape[1], permMask, targets, 1).Logits.ToArray();
        Assert.Equal(before, after);
        // ...while a token it may see does change it.
        changed[2] = (changed[2] + 7) % 1000;
        Assert.NotEqual(before, _model.Forward(changed, 1, shape[1], permMask, targets, 1).Logits.ToArray());
    }

    [Fact]
    public void OneSegmentForEveryTokenLeavesLogitsUnchanged()
    {
        // With a single segment the segment term is the same for every key of a query, and softmax ignores a constant.
        int[] ids = _goldens.Ints("forward_plain.input_ids", out var shape);
        var plain = _model.Forward(ids, 1, shape[1]).Logits;
        var oneSegment = _model.Forward(ids, 1, shape[1], tokenTypeIds: new int[shape[1]]).Logits;
        Goldens.AssertClose(plain.Span, oneSegment.Span, 1e-5f, "one segment");
        int[] twoSegments = [.. Enumerable.Range(0, shape[1]).Select(t => t < 4 ? 0 : 1)];
        var split = _model.Forward(ids, 1, shape[1], tokenTypeIds: twoSegments).Logits;
        var difference = new float[plain.Length];
        System.Numerics.Tensors.TensorPrimitives.Subtract(plain.Span, split.Span, difference);
        Assert.True(MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(difference)) > 1e-3f, $"two segments must change the scores through seg_embed (max change {System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(difference)})");
    }

    [Fact]
    public void BatchRowsAreIndependent()
    {
        int[] ids = _goldens.Ints("forward_plain.input_ids", out var shape);
        int[] reversed = [.. ids.Reverse()];
        var batch = _model.Forward([.. ids, .. reversed], 2, shape[1]).Logits.Span;
        Goldens.AssertClose(_goldens.Floats("forward_plain.logits").Span, batch[..(shape[1] * 1000)], Tolerance, "row 0");
        Goldens.AssertClose(_model.Forward(reversed, 1, shape[1]).Logits.Span, batch[(shape[1] * 1000)..], 1e-5f, "row 1");
    }

    [Fact]
    public void BadInputsAreRefusedByName()
    {
        Assert.Contains("perm_mask", Assert.Throws<ArgumentException>(() => _model.Forward([1, 2, 3], 1, 3, permMask: new float[4])).Message, StringComparison.Ordinal);
        Assert.Contains("target_mapping", Assert.Throws<ArgumentException>(() => _model.Forward([1, 2, 3], 1, 3, targetMapping: new float[3], targetCount: 2)).Message, StringComparison.Ordinal);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => _model.Forward([1, 5000], 1, 2)).Message, StringComparison.Ordinal);
        var uni = HfConfig.Parse("""{"model_type":"xlnet","vocab_size":10,"d_model":8,"n_layer":1,"n_head":2,"d_head":4,"d_inner":16,"bi_data":true}""", "x.json");
        Assert.Contains("bi_data", Assert.Throws<CheckpointException>(() => XLNetConfig.FromHf(uni)).Message, StringComparison.Ordinal);
    }
}
