using Sharpformer.Generation;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Models;

/// <summary>
/// GPT-Neo (alternating global / local attention, window 8) against HF transformers 4.36 goldens in Fixtures/gpt_neo.
/// Inputs are 20 tokens and generation runs to 40, well beyond the window.
/// </summary>
public sealed class GptNeoParityTests : IDisposable
{
    private const float Tolerance = 1e-4f;
    private const int Vocab = 1000;
    private readonly Gpt2Model _model = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt_neo"));
    private readonly Goldens _goldens = new("gpt_neo");

    public void Dispose()
    {
        _model.Dispose();
        _goldens.Dispose();
    }

    private static Func<int, bool> RealPositions(int[] mask, int perPosition) => index => mask[index / perPosition] != 0;

    [Fact]
    public void ConfigExpandsAttentionTypesIntoAlternatingLayers()
    {
        var config = GptNeoConfig.FromHf(HfConfig.Load(Fixture.File("gpt_neo", "config.json")));
        Assert.Equal(["global", "local", "global", "local"], config.AttentionLayers);
        Assert.Equal([0, 8, 0, 8], Enumerable.Range(0, 4).Select(config.LayerWindow));
        Assert.Equal("gpt_neo", _model.ModelType);
        Assert.False(_model.Config.ScaleAttentionWeights);
    }

    [Fact]
    public void BadAttentionTypesAreRefusedByName()
    {
        var config = HfConfig.Parse("""{"model_type":"gpt_neo","vocab_size":10,"hidden_size":8,"num_heads":2,"num_layers":3,"attention_types":[[["global","local"],1]]}""", "neo.json");
        var error = Assert.Throws<CheckpointException>(() => GptNeoConfig.FromHf(config));
        Assert.Contains("2 layers", error.Message, StringComparison.Ordinal);
        Assert.Contains("num_layers is 3", error.Message, StringComparison.Ordinal);
        var sparse = HfConfig.Parse("""{"model_type":"gpt_neo","vocab_size":10,"hidden_size":8,"num_heads":2,"num_layers":1,"attention_types":[[["sparse"],1]]}""", "neo.json");
        Assert.Contains("'sparse'", Assert.Throws<CheckpointException>(() => GptNeoConfig.FromHf(sparse)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WeightNamesAndShapesMatchTheCheckpointHeader()
    {
        var config = GptNeoConfig.FromHf(HfConfig.Load(Fixture.File("gpt_neo", "config.json")));
        using var file = SafetensorsFile.Open(Fixture.File("gpt_neo", "model.safetensors"));
        var expected = config.ExpectedTensors().Select(t => $"{t.Name} {Tensor.FormatShape(t.Shape)}").Order().ToArray();
        var actual = file.Names.Select(name => $"{name} {Tensor.FormatShape(file.GetInfo(name).Shape)}").Order().ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void ForwardBatchLogitsAndEveryHiddenStateMatchHf()
    {
        int[] ids = _goldens.Ints("forward_batch.input_ids", out var shape);
        int[] mask = _goldens.Ints("forward_batch.attention_mask");
        int[] positions = _goldens.Ints("forward_batch.position_ids");
        var output = _model.Forward(ids, shape[0], shape[1], mask, positions, outputHiddenStates: true);

        Goldens.AssertClose(_goldens.Floats("forward_batch.logits").Span, output.Logits.Span, Tolerance, "logits", RealPositions(mask, Vocab));
        Assert.NotNull(output.HiddenStates);
        Assert.Equal(5, output.HiddenStates.Count);
        for (int i = 0; i < output.HiddenStates.Count; i++)
        {
            Goldens.AssertClose(_goldens.Floats($"forward_batch.hidden_states.{i}").Span, output.HiddenStates[i].Span, Tolerance,
                $"hidden_states.{i}", RealPositions(mask, 64));
        }
    }

    [Fact]
    public void DefaultPositionsMatchHf()
    {
        int[] ids = _goldens.Ints("forward_batch_default_positions.input_ids", out var shape);
        int[] mask = _goldens.Ints("forward_batch_default_positions.attention_mask");
        var output = _model.Forward(ids, shape[0], shape[1], mask);
        Goldens.AssertClose(_goldens.Floats("forward_batch_default_positions.logits").Span, output.Logits.Span, Tolerance, "logits", RealPositions(mask, Vocab));
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

        int[] stepMask = _goldens.Ints("incremental_step.attention_mask");
        var step = _model.Forward(_goldens.Ints("incremental_step.next_ids"), batch, 1, stepMask, _goldens.Ints("incremental_step.position_ids"), cache);
        Goldens.AssertClose(_goldens.Floats("incremental_step.logits").Span, step.Logits.Span, Tolerance, "incremental logits");
        Goldens.AssertClose(_goldens.Floats("incremental_step.full_forward_last_logits").Span, step.Logits.Span, Tolerance, "incremental vs full forward");
        AssertCache(cache, "incremental_step.present", length + 1, stepMask);
        // The local layers slid: they now hold only the last window of the 21 positions.
        Assert.Equal(21, cache.LayerLength(0));
        Assert.Equal(8, cache.LayerLength(1));
        Assert.Equal(13, cache.LayerStart(1));
    }

    /// <summary>HF keeps every position; a local layer of ours holds a tail of them, which must equal HF's tail.</summary>
    private void AssertCache(KvCache cache, string prefix, int length, int[] mask)
    {
        const int heads = 4, headDim = 16;
        Assert.Equal(length, cache.Length);
        for (int layer = 0; layer < 4; layer++)
        {
            int start = cache.LayerStart(layer), held = cache.LayerLength(layer);
            Assert.Equal(length, start + held);
            foreach (string kind in (string[])["key", "value"])
            {
                var expected = _goldens.Floats($"{prefix}.{layer}.{kind}").Span;
                for (int b = 0; b < cache.BatchSize; b++)
                {
                    for (int h = 0; h < heads; h++)
                    {
                        var view = (kind == "key" ? cache.Keys(layer, b, h) : cache.Values(layer, b, h)).Span;
                        var golden = expected.Slice(((b * heads + h) * length + start) * headDim, held * headDim);
                        int row = b;
                        Goldens.AssertClose(golden, view, Tolerance, $"{prefix}.{layer}.{kind} row {b} head {h}",
                            index => mask[row * length + start + index / headDim] != 0);
                    }
                }
            }
        }
    }

    public static TheoryData<string, int[]?> GreedyEntries() => new()
    {
        { "greedy_single", null },
        { "greedy_batch", null },
        { "greedy_batch_custom_eos", [462] },
    };

    [Theory]
    [MemberData(nameof(GreedyEntries))]
    public void GreedyGenerationMatchesHfBeyondTheWindow(string entry, int[]? eos)
    {
        int[] ids = _goldens.Ints($"{entry}.input_ids", out var inputShape);
        int[] mask = _goldens.Ints($"{entry}.attention_mask");
        var options = new GenerationOptions { PadTokenId = 999, MaxNewTokens = 20, OutputScores = true, EosTokenIds = eos };
        var result = Generator.Generate(_model, new PromptBatch(ids, mask, inputShape[0], inputShape[1]), options, TestContext.Current.CancellationToken);

        int[] expected = _goldens.Ints($"{entry}.sequences", out var shape);
        Assert.Equal(shape[0], result.Sequences.Count);
        for (int row = 0; row < shape[0]; row++)
        {
            Assert.Equal(expected.AsSpan(row * shape[1], shape[1]).ToArray(), result.Sequences[row].Sequence);
        }
        var scores = _goldens.Floats($"{entry}.scores");
        Assert.NotNull(result.Scores);
        Assert.Equal(scores.Shape[0], result.Scores.Count);
        int perStep = scores.Shape[1] * scores.Shape[2];
        for (int step = 0; step < result.Scores.Count; step++)
        {
            Goldens.AssertClose(scores.Span.Slice(step * perStep, perStep), result.Scores[step], Tolerance, $"{entry} scores[{step}]");
        }
    }

    [Fact]
    public void WindowedCacheEqualsRecomputeFarBeyondTheWindow()
    {
        var rng = new Rng(3);
        int length = 60; // 7 windows of 8: the local layers slide several times
        int[] ids = [.. Enumerable.Range(0, length).Select(_ => rng.NextInt(Vocab))];
        var full = _model.Forward(ids, 1, length);
        foreach (int split in (int[])[1, 5, 19])
        {
            var cache = _model.CreateCache(1, length);
            var first = _model.Forward(ids[..split], 1, split, cache: cache);
            Goldens.AssertClose(full.Logits.Span[..(split * Vocab)], first.Logits.Span, 1e-5f, $"prefix of {split}");
            for (int t = split; t < length; t++)
            {
                var step = _model.Forward([ids[t]], 1, 1, cache: cache);
                Goldens.AssertClose(full.Logits.Span.Slice(t * Vocab, Vocab), step.Logits.Span, 1e-4f, $"split {split}, cached step {t}");
                Assert.True(cache.LayerLength(1) <= 16, $"local layer holds {cache.LayerLength(1)} positions, more than 2 × window");
            }
            Assert.Equal(length, cache.LayerLength(0));
        }
    }

    [Fact]
    public void WindowedCacheStoresAboutTwoWindowsPerLocalLayer()
    {
        var local = new KvCache(2, 1, 4, 16, 2048, [0, 256]);
        var dense = new KvCache(2, 1, 4, 16, 2048);
        Assert.Equal(dense.AllocatedBytes / 2 + dense.AllocatedBytes / 2 * 512 / 2048, local.AllocatedBytes);
        // A long prefill grows the local layer; the next step slides back to two windows.
        var keys = new float[1000 * 64];
        local.Append(1, keys, keys, 1000, 64);
        Assert.Equal(1000, local.LayerLength(1));
        local.Append(1, keys, keys, 1, 64);
        Assert.Equal(256, local.LayerLength(1));
        Assert.Equal(745, local.LayerStart(1));
        Assert.Equal(1 * 4 * 512 * 16 * 4 * 2L, local.AllocatedBytes - dense.AllocatedBytes / 2);
    }

    [Fact]
    public void TruncatingPastTheHeldWindowIsRefused()
    {
        var cache = new KvCache(1, 1, 1, 2, 100, [4]);
        var keys = new float[40 * 2];
        cache.Append(0, keys, keys, 40, 2);
        cache.Append(0, keys, keys, 1, 2); // slides: holds positions 37..40
        cache.Truncate(40);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(38));
        Assert.Contains("local window 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BeamSearchRunsOnTheWindowedCacheAndEqualsASoloRun()
    {
        // Reorder must move the slid buffers too: beam rows after many steps still equal a fresh forward of their sequence.
        int[] prompt = [.. Enumerable.Range(0, 12).Select(i => (i * 37) % Vocab)];
        var options = new GenerationOptions { PadTokenId = 999, MaxNewTokens = 16, NumBeams = 3, NumReturnSequences = 3 };
        var result = Generator.Generate(_model, PromptBatch.Single(prompt), options, TestContext.Current.CancellationToken);
        foreach (var sequence in result.Sequences)
        {
            int[] ids = [.. prompt, .. sequence.GeneratedIds];
            var logits = _model.Forward(ids, 1, ids.Length).Logits.Span;
            double sum = 0;
            for (int t = prompt.Length; t < ids.Length; t++)
            {
                var row = logits.Slice((t - 1) * Vocab, Vocab);
                float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
                double total = 0;
                foreach (float value in row)
                {
                    total += Math.Exp(value - max);
                }
                sum += row[ids[t]] - max - Math.Log(total);
            }
            double expected = sum / (ids.Length - prompt.Length);
            Assert.True(Math.Abs(expected - sequence.SequenceScore!.Value) < 1e-3, $"beam score {sequence.SequenceScore} vs recomputed {expected}");
        }
    }
}
