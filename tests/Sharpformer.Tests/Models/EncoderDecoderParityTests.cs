using Sharpformer.Generation;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Models;

/// <summary>
/// BART, T5 v1.0 and T5 v1.1 against Hugging Face transformers 4.36 goldens (tiny random checkpoints in
/// Fixtures/{bart,t5,t5_v1_1}): encoder, decoder logits and hidden states, past key/values, the cached step, generate().
/// </summary>
public sealed class EncoderDecoderParityTests
{
    private const float Tolerance = 1e-4f;
    private const int Vocab = 1000;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static TheoryData<string> Fixtures() => new() { "bart", "t5", "t5_v1_1" };

    private static EncoderDecoderModel Load(string fixture) => (EncoderDecoderModel)ModelRegistry.Load(Fixture.File(fixture));

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EncoderOutputAndHiddenStatesMatchHf(string fixture)
    {
        using var model = Load(fixture);
        using var goldens = new Goldens(fixture);
        int[] ids = goldens.Ints("encoder.input_ids", out var shape);
        int[] mask = goldens.Ints("encoder.attention_mask");
        Assert.Contains(0, mask); // row 1 is padded, so masking is exercised.
        var states = new List<Tensor>();
        float[] output = model.Encode(ids, mask, shape[0], shape[1], states);
        Goldens.AssertClose(goldens.Floats("encoder.last_hidden_state").Span, output, Tolerance, $"{fixture} encoder output");
        for (int i = 0; goldens.Has($"encoder.hidden_states.{i}"); i++)
        {
            Assert.True(i < states.Count, $"{fixture}: only {states.Count} hidden states");
            Goldens.AssertClose(goldens.Floats($"encoder.hidden_states.{i}").Span, states[i].Span, Tolerance, $"{fixture} encoder hidden_states.{i}");
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void DecoderLogitsHiddenStatesAndPastKeyValuesMatchHf(string fixture)
    {
        using var model = Load(fixture);
        using var goldens = new Goldens(fixture);
        int[] ids = goldens.Ints("forward.input_ids", out var shape);
        int[] mask = goldens.Ints("forward.attention_mask");
        int[] decoderIds = goldens.Ints("forward.decoder_input_ids", out var decoderShape);
        int batch = shape[0], target = decoderShape[1];
        var cache = model.CreateCache(batch, shape[1], target + 1);
        var output = model.Forward(ids, mask, batch, shape[1], decoderIds, target, cache, outputHiddenStates: true);

        Assert.Equal(new[] { batch, target, Vocab }, output.Logits.Shape);
        Goldens.AssertClose(goldens.Floats("forward.logits").Span, output.Logits.Span, Tolerance, $"{fixture} logits");
        Goldens.AssertClose(goldens.Floats("forward.encoder_last_hidden_state").Span, output.EncoderLastHiddenState.Span, Tolerance, $"{fixture} encoder");
        Assert.NotNull(output.DecoderHiddenStates);
        int checkedStates = 0;
        for (int i = 0; goldens.Has($"forward.decoder_hidden_states.{i}"); i++, checkedStates++)
        {
            Goldens.AssertClose(goldens.Floats($"forward.decoder_hidden_states.{i}").Span, output.DecoderHiddenStates[i].Span, Tolerance,
                $"{fixture} decoder_hidden_states.{i}");
        }
        Assert.Equal(checkedStates, output.DecoderHiddenStates.Count);
        for (int layer = 0; goldens.Has($"forward.past.{layer}.self_key"); layer++)
        {
            AssertCacheLayer(goldens, $"forward.past.{layer}.self_key", cache.Self, layer, keys: true);
            AssertCacheLayer(goldens, $"forward.past.{layer}.self_value", cache.Self, layer, keys: false);
            AssertCacheLayer(goldens, $"forward.past.{layer}.cross_key", cache.Cross, layer, keys: true);
            AssertCacheLayer(goldens, $"forward.past.{layer}.cross_value", cache.Cross, layer, keys: false);
        }

        // The cached incremental step reuses the cross cache (no encoder output passed).
        int[] next = goldens.Ints("incremental_step.next_ids");
        var step = model.Decode(next, batch, 1, ReadOnlySpan<float>.Empty, mask, cache);
        Goldens.AssertClose(goldens.Floats("incremental_step.logits").Span, step.Span, Tolerance, $"{fixture} incremental logits");
        Goldens.AssertClose(goldens.Floats("incremental_step.full_forward_last_logits").Span, step.Span, Tolerance, $"{fixture} step vs full");
        Assert.Equal(target + 1, cache.Length);
    }

    /// <summary>HF layout [batch, heads, length, headDim]; our cache hands out the same per (row, head).</summary>
    private static void AssertCacheLayer(Goldens goldens, string name, KvCache cache, int layer, bool keys)
    {
        var expected = goldens.Floats(name);
        int length = expected.Shape[2];
        Assert.Equal(length, cache.LayerLength(layer));
        var actual = new float[expected.Length];
        for (int b = 0; b < cache.BatchSize; b++)
        {
            for (int h = 0; h < cache.HeadCount; h++)
            {
                var view = keys ? cache.Keys(layer, b, h) : cache.Values(layer, b, h);
                view.Span.CopyTo(actual.AsSpan((b * cache.HeadCount + h) * length * cache.HeadDim));
            }
        }
        Goldens.AssertClose(expected.Span, actual, Tolerance, name);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void CachedDecodingEqualsRecompute(string fixture)
    {
        using var model = Load(fixture);
        var rng = new Rng(7);
        for (int trial = 0; trial < 3; trial++)
        {
            int sourceLength = 2 + rng.NextInt(10), target = 3 + rng.NextInt(12);
            int[] source = Enumerable.Range(0, 2 * sourceLength).Select(_ => rng.NextInt(Vocab)).ToArray();
            int[] mask = Enumerable.Repeat(1, source.Length).ToArray();
            mask[^1] = 0; // row 1 ends with padding
            int[] decoder = Enumerable.Range(0, 2 * target).Select(_ => rng.NextInt(Vocab)).ToArray();
            var full = model.Forward(source, mask, 2, sourceLength, decoder, target).Logits.Span;

            float[] encoded = model.Encode(source, mask, 2, sourceLength);
            var cache = model.CreateCache(2, sourceLength, target);
            for (int t = 0; t < target; t++)
            {
                int[] step = [decoder[t], decoder[target + t]];
                var logits = model.Decode(step, 2, 1, encoded, mask, cache).Span;
                for (int b = 0; b < 2; b++)
                {
                    Goldens.AssertClose(full.Slice((b * target + t) * Vocab, Vocab), logits.Slice(b * Vocab, Vocab), 1e-4f, $"{fixture} row {b} step {t}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void WeightNamesAndShapesMatchTheCheckpointHeader(string fixture)
    {
        using var model = Load(fixture);
        var tensors = model switch
        {
            BartModel bart => bart.Config.ExpectedTensors(),
            T5Model t5 => t5.Config.ExpectedTensors(),
            _ => throw new InvalidOperationException(model.GetType().Name),
        };
        using var file = SafetensorsFile.Open(Fixture.File(fixture, "model.safetensors"));
        var expected = tensors.Select(t => $"{t.Name} {Tensor.FormatShape(t.Shape)}").Order().ToArray();
        var actual = file.Names.Select(name => $"{name} {Tensor.FormatShape(file.GetInfo(name).Shape)}").Order().ToArray();
        Assert.Equal(expected, actual);
    }

    public static TheoryData<string, string, GenerationOptions> GenerationEntries()
    {
        var data = new TheoryData<string, string, GenerationOptions>();
        foreach (var (fixture, customEos) in new[] { ("bart", 746), ("t5", 851), ("t5_v1_1", 567) })
        {
            data.Add(fixture, "greedy_single", new GenerationOptions { MaxNewTokens = 20, OutputScores = true });
            data.Add(fixture, "greedy_batch", new GenerationOptions { MaxNewTokens = 20, OutputScores = true });
            data.Add(fixture, "beam_batch", new GenerationOptions { MaxNewTokens = 12, NumBeams = 4, NumReturnSequences = 2 });
            data.Add(fixture, "beam_batch_custom_eos", new GenerationOptions { MaxNewTokens = 12, NumBeams = 4, NumReturnSequences = 2, EosTokenIds = [customEos] });
        }
        return data;
    }

    /// <summary>generate(): identical sequences (decoder start token first), greedy scores ≤ 1e-4, beam sequences_scores ≤ 1e-5.</summary>
    [Theory]
    [MemberData(nameof(GenerationEntries))]
    public void GenerateMatchesHf(string fixture, string entry, GenerationOptions options)
    {
        using var model = Load(fixture);
        using var goldens = new Goldens(fixture);
        int[] ids = goldens.Ints($"{entry}.input_ids", out var inputShape);
        int[] mask = goldens.Ints($"{entry}.attention_mask");
        var result = Generator.Generate(model, new PromptBatch(ids, mask, inputShape[0], inputShape[1]), options, Token);

        int[] expected = goldens.Ints($"{entry}.sequences", out var shape);
        Assert.Equal(shape[0], result.Sequences.Count);
        for (int row = 0; row < shape[0]; row++)
        {
            Assert.Equal(expected.AsSpan(row * shape[1], shape[1]).ToArray(), result.Sequences[row].Sequence);
        }
        if (goldens.Has($"{entry}.scores"))
        {
            var scores = goldens.Floats($"{entry}.scores");
            Assert.NotNull(result.Scores);
            Assert.Equal(scores.Shape[0], result.Scores.Count);
            int perStep = scores.Shape[1] * scores.Shape[2];
            for (int step = 0; step < result.Scores.Count; step++)
            {
                Goldens.AssertClose(scores.Span.Slice(step * perStep, perStep), result.Scores[step], 1e-4f, $"{fixture} {entry} scores[{step}]");
            }
        }
        if (goldens.Has($"{entry}.sequences_scores"))
        {
            var sequenceScores = goldens.Floats($"{entry}.sequences_scores").Span;
            for (int row = 0; row < shape[0]; row++)
            {
                Assert.True(MathF.Abs(sequenceScores[row] - result.Sequences[row].SequenceScore!.Value) <= 1e-5f,
                    $"{fixture} {entry} sequences_scores[{row}]: {result.Sequences[row].SequenceScore} vs HF {sequenceScores[row]}");
            }
        }
    }
}
