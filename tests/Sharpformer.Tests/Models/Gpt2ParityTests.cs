using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Models;

/// <summary>GPT-2 against Hugging Face transformers 4.36 goldens (tiny random checkpoint in Fixtures/gpt2).</summary>
public sealed class Gpt2ParityTests : IDisposable
{
    private const float Tolerance = 1e-4f;
    private readonly Gpt2Model _model = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"));
    private readonly Goldens _goldens = new("gpt2");

    public void Dispose()
    {
        _model.Dispose();
        _goldens.Dispose();
    }

    /// <summary>Left-padded slots hold meaningless values in HF: compare only positions whose mask is 1.</summary>
    private static Func<int, bool> RealPositions(int[] mask, int perPosition) => index => mask[index / perPosition] != 0;

    [Fact]
    public void ForwardBatchLogitsAndEveryHiddenStateMatchHf()
    {
        int[] ids = _goldens.Ints("forward_batch.input_ids", out var shape);
        int[] mask = _goldens.Ints("forward_batch.attention_mask");
        int[] positions = _goldens.Ints("forward_batch.position_ids");
        var output = _model.Forward(ids, shape[0], shape[1], mask, positions, outputHiddenStates: true);

        Assert.Equal(new[] { shape[0], shape[1], 1000 }, output.Logits.Shape);
        Goldens.AssertClose(_goldens.Floats("forward_batch.logits").Span, output.Logits.Span, Tolerance, "logits", RealPositions(mask, 1000));
        Assert.NotNull(output.HiddenStates);
        Assert.Equal(_model.Config.LayerCount + 1, output.HiddenStates.Count);
        for (int i = 0; i < output.HiddenStates.Count; i++)
        {
            Goldens.AssertClose(_goldens.Floats($"forward_batch.hidden_states.{i}").Span, output.HiddenStates[i].Span, Tolerance,
                $"hidden_states.{i}", RealPositions(mask, 64));
        }
    }

    [Fact]
    public void DefaultPositionsAreZeroToLengthEvenForPaddedRows()
    {
        int[] ids = _goldens.Ints("forward_batch_default_positions.input_ids", out var shape);
        int[] mask = _goldens.Ints("forward_batch_default_positions.attention_mask");
        var output = _model.Forward(ids, shape[0], shape[1], mask);
        Goldens.AssertClose(_goldens.Floats("forward_batch_default_positions.logits").Span, output.Logits.Span, Tolerance, "logits", RealPositions(mask, 1000));
    }

    [Fact]
    public void PastKeyValuesAndTheCachedIncrementalStepMatchHf()
    {
        int[] ids = _goldens.Ints("forward_batch.input_ids", out var shape);
        int batch = shape[0], length = shape[1];
        int[] mask = _goldens.Ints("forward_batch.attention_mask");
        var cache = _model.CreateCache(batch, length + 1);
        _model.Forward(ids, batch, length, mask, _goldens.Ints("forward_batch.position_ids"), cache);
        AssertCache(cache, "forward_batch.past", length, mask);

        int[] nextIds = _goldens.Ints("incremental_step.next_ids");
        int[] stepMask = _goldens.Ints("incremental_step.attention_mask");
        var step = _model.Forward(nextIds, batch, 1, stepMask, _goldens.Ints("incremental_step.position_ids"), cache);
        Goldens.AssertClose(_goldens.Floats("incremental_step.logits").Span, step.Logits.Span, Tolerance, "incremental logits");
        Goldens.AssertClose(_goldens.Floats("incremental_step.full_forward_last_logits").Span, step.Logits.Span, Tolerance, "incremental vs full forward");
        AssertCache(cache, "incremental_step.present", length + 1, stepMask);
    }

    private void AssertCache(KvCache cache, string prefix, int length, int[] mask)
    {
        var config = _model.Config;
        Assert.Equal(length, cache.Length);
        for (int layer = 0; layer < config.LayerCount; layer++)
        {
            foreach (var (kind, expected) in new[] { ("key", _goldens.Floats($"{prefix}.{layer}.key")), ("value", _goldens.Floats($"{prefix}.{layer}.value")) })
            {
                // HF layout [batch, heads, seq, headDim]; our cache hands out the same per (row, head).
                var actual = new float[expected.Length];
                for (int b = 0; b < cache.BatchSize; b++)
                {
                    for (int h = 0; h < config.HeadCount; h++)
                    {
                        var view = kind == "key" ? cache.Keys(layer, b, h) : cache.Values(layer, b, h);
                        view.Span.CopyTo(actual.AsSpan((b * config.HeadCount + h) * length * config.HeadDim));
                    }
                }
                int perRow = config.HeadCount * length * config.HeadDim;
                Goldens.AssertClose(expected.Span, actual, Tolerance, $"{prefix}.{layer}.{kind}",
                    index => mask[index / perRow * length + index / config.HeadDim % length] != 0);
            }
        }
    }

    [Fact]
    public void WeightNamesAndShapesMatchTheCheckpointHeader()
    {
        using var file = SafetensorsFile.Open(Fixture.File("gpt2", "model.safetensors"));
        var expected = _model.Config.ExpectedTensors().Select(t => $"{t.Name} {Tensor.FormatShape(t.Shape)}").Order().ToArray();
        var actual = file.Names.Select(name => $"{name} {Tensor.FormatShape(file.GetInfo(name).Shape)}").Order().ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void CacheEqualsRecomputeOnRandomPrompts()
    {
        var rng = new Rng(11);
        for (int trial = 0; trial < 4; trial++)
        {
            int length = 3 + rng.NextInt(20);
            int[] ids = Enumerable.Range(0, length).Select(_ => rng.NextInt(1000)).ToArray();
            var full = _model.Forward(ids, 1, length);
            int split = 1 + rng.NextInt(length - 1);
            var cache = _model.CreateCache(1, length);
            var first = _model.Forward(ids[..split], 1, split, cache: cache);
            // Feed the rest one token at a time, as decoding does.
            var stepLogits = new List<float[]>();
            for (int t = split; t < length; t++)
            {
                stepLogits.Add(_model.Forward([ids[t]], 1, 1, cache: cache).Logits.ToArray());
            }
            Goldens.AssertClose(full.Logits.Span[..(split * 1000)], first.Logits.Span, 1e-5f, "prefix logits");
            for (int t = split; t < length; t++)
            {
                Goldens.AssertClose(full.Logits.Span.Slice(t * 1000, 1000), stepLogits[t - split], 1e-4f, $"cached step {t}");
            }
        }
    }

    [Fact]
    public void LeftPaddedBatchEqualsEachPromptAlone()
    {
        var rng = new Rng(5);
        int[][] prompts = [.. Enumerable.Range(0, 3).Select(i => Enumerable.Range(0, 2 + 4 * i).Select(_ => rng.NextInt(999)).ToArray())];
        var batch = PromptBatch.LeftPadded(prompts, 999);
        using var session = _model.StartSession(batch, 5);
        var batchLogits = new float[3 * 1000];
        session.Prefill(batchLogits);
        var next = new int[3];
        for (int b = 0; b < 3; b++)
        {
            next[b] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(batchLogits.AsSpan(b * 1000, 1000));
        }
        var stepLogits = new float[3 * 1000];
        session.Step(next, stepLogits);
        for (int b = 0; b < 3; b++)
        {
            var alone = _model.Forward([.. prompts[b], next[b]], 1, prompts[b].Length + 1).Logits.Span;
            Goldens.AssertClose(alone.Slice((prompts[b].Length - 1) * 1000, 1000), batchLogits.AsSpan(b * 1000, 1000), 1e-4f, $"row {b} prefill");
            Goldens.AssertClose(alone.Slice(prompts[b].Length * 1000, 1000), stepLogits.AsSpan(b * 1000, 1000), 1e-4f, $"row {b} step");
        }
    }

    [Fact]
    public void PromptLongerThanTheContextIsRefused()
    {
        var exception = Assert.Throws<ArgumentException>(() => _model.StartSession(PromptBatch.Single(new int[120]), 20));
        Assert.Contains("context of 128", exception.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _model.Forward([1000], 1, 1));
    }
}
