using Sharpformer.Tensors;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using static Sharpformer.Tests.Training.Objectives.ObjectiveData;

namespace Sharpformer.Tests.Training.Objectives;

public sealed class SpanCorruptionObjectiveTests
{
    // A T5-like toy vocabulary: pad 0, </s> 1, ordinary ids below 900, <extra_id_i> = 999 - i.
    private const int T5Pad = 0, T5Eos = 1, OrdinaryEnd = 900;

    private static readonly int[] s_sentinels = SpanCorruptionObjective.DescendingSentinels(VocabSize - 1);

    private static SpanCorruptionObjective Create(SpanCorruptionOptions? options = null) => new(T5Eos, T5Pad, VocabSize, s_sentinels, options);

    private static bool IsSentinel(int id) => id >= OrdinaryEnd;

    [Theory]
    [InlineData(512, 568, 114)] // the figures HF's run_t5_mlm_flax.py reports for T5's 512 inputs
    [InlineData(128, 141, 29)] // below: HF's compute_input_and_target_lengths evaluated in Python
    [InlineData(64, 70, 14)]
    [InlineData(16, 17, 5)]
    public void LengthsMatchHfComputeInputAndTargetLengths(int sequenceLength, int tokensLength, int targetLength)
    {
        Assert.Equal((tokensLength, targetLength), Create().Lengths(sequenceLength));
        Assert.Equal(tokensLength, Create().SegmentLength(sequenceLength));
    }

    [Fact]
    public void HalfDensityTrimsTheTargetsAsHf()
    {
        // Python: compute_input_and_target_lengths(64, 0.5, 3) == (94, 64).
        Assert.Equal((94, 64), Create(new SpanCorruptionOptions { NoiseDensity = 0.5 }).Lengths(64));
    }

    /// <summary>Replaces each sentinel of the input by the label tokens that follow the same sentinel.</summary>
    private static int[] Reconstruct(int[] input, int[] labels)
    {
        var result = new List<int>();
        foreach (int id in input)
        {
            if (!IsSentinel(id))
            {
                result.Add(id);
                continue;
            }
            int start = Array.IndexOf(labels, id) + 1;
            Assert.True(start > 0, $"sentinel {id} of the input is missing from the labels");
            for (int t = start; t < labels.Length && !IsSentinel(labels[t]) && labels[t] != T5Eos; t++)
            {
                result.Add(labels[t]);
            }
        }
        return [.. result];
    }

    [Fact]
    public void InputsAndTargetsInterleaveBackIntoTheSegment()
    {
        var objective = Create();
        var segments = RandomSegments(20, 70, vocabSize: OrdinaryEnd);
        TrainingBatch batch = objective.CreateBatch(segments, 64, new Rng(3));
        Assert.Equal((20, 64, 14), (batch.BatchSize, batch.Length, batch.TargetLength));
        Assert.Null(batch.AttentionMask);
        for (int b = 0; b < 20; b++)
        {
            int[] input = Row(batch.InputIds, b, 64);
            int[] labels = Row(batch.Labels, b, 14);
            Assert.Equal(T5Eos, input[^1]);
            Assert.Equal(T5Eos, labels[^1]);
            Assert.Equal([.. input.Where(IsSentinel)], [.. labels.Where(IsSentinel)]);
            Assert.Equal(s_sentinels[..input.Count(IsSentinel)], input.Where(IsSentinel));
            Assert.True(IsSentinel(labels[0]), "targets start with <extra_id_0>");
            Assert.Equal(segments[b].ToArray(), Reconstruct(input[..^1], labels));
            Assert.Equal([T5Pad, .. labels[..^1]], Row(batch.DecoderInputIds!, b, 14));
        }
    }

    [Fact]
    public void NoiseIsFifteenPercentInSpansOfMeanThreeAtVaryingPlaces()
    {
        var objective = Create();
        int tokensLength = objective.SegmentLength(512);
        var segments = RandomSegments(200, tokensLength, vocabSize: OrdinaryEnd);
        TrainingBatch batch = objective.CreateBatch(segments, 512, new Rng(8));
        int noise = 0, spans = 0;
        var firstSpanStarts = new HashSet<int>();
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] labels = Row(batch.Labels, b, batch.TargetLength);
            spans += labels.Count(IsSentinel);
            noise += labels.Count(id => !IsSentinel(id) && id != T5Eos && id != TrainingBatch.IgnoreIndex);
            firstSpanStarts.Add(Array.FindIndex(Row(batch.InputIds, b, 512), IsSentinel));
        }
        Assert.InRange((double)noise / (200 * tokensLength), 0.14, 0.16);
        Assert.InRange((double)noise / spans, 3 * 0.95, 3 * 1.05);
        Assert.True(firstSpanStarts.Count > 20, "span positions should be random");
    }

    [Fact]
    public void AShortSegmentIsCorruptedAndPadded()
    {
        var objective = Create();
        int[] segment = [.. Enumerable.Range(10, 20)];
        TrainingBatch batch = objective.CreateBatch([segment], 64, new Rng(4));
        int[] input = batch.InputIds;
        int used = Array.IndexOf(input, T5Eos) + 1;
        Assert.True(used < 64);
        Assert.All(input[used..], id => Assert.Equal(T5Pad, id));
        Assert.Equal([.. Enumerable.Repeat(1, used), .. Enumerable.Repeat(0, 64 - used)], batch.AttentionMask!);
        int labelCount = Array.IndexOf(batch.Labels, T5Eos) + 1;
        Assert.All(batch.Labels[labelCount..], id => Assert.Equal(TrainingBatch.IgnoreIndex, id));
        Assert.All(batch.DecoderInputIds![(labelCount + 1)..], id => Assert.Equal(T5Pad, id));
        Assert.Equal(segment, Reconstruct(input[..(used - 1)], batch.Labels));
        Assert.Equal(3, batch.Labels.Count(id => id is >= 10 and < 30)); // round(20 · 0.15) noise tokens
    }

    [Fact]
    public void SameSeedSameBatchDifferentSeedDifferentBatch()
    {
        var objective = Create();
        var segments = RandomSegments(4, 70, vocabSize: OrdinaryEnd);
        SameBatch(objective.CreateBatch(segments, 64, new Rng(5)), objective.CreateBatch(segments, 64, new Rng(5)));
        Assert.False(SameInputs(objective.CreateBatch(segments, 64, new Rng(5)), objective.CreateBatch(segments, 64, new Rng(6))));
    }

    [Fact]
    public void RefusesInvalidOptions()
    {
        Assert.Contains("NoiseDensity", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new SpanCorruptionOptions { NoiseDensity = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("NoiseDensity", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new SpanCorruptionOptions { NoiseDensity = 1 })).Message, StringComparison.Ordinal);
        Assert.Contains("MeanNoiseSpanLength", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new SpanCorruptionOptions { MeanNoiseSpanLength = 0.5 })).Message, StringComparison.Ordinal);
        Assert.Contains("distinct", Assert.Throws<ArgumentException>(() => new SpanCorruptionObjective(T5Eos, T5Pad, VocabSize, [999, 999])).Message, StringComparison.Ordinal);
        var fewSentinels = new SpanCorruptionObjective(T5Eos, T5Pad, VocabSize, [999, 998]);
        Assert.Contains("needs 3 sentinels but only 2", Assert.Throws<ArgumentOutOfRangeException>(() => fewSentinels.SegmentLength(64)).Message, StringComparison.Ordinal);
        Assert.Contains("segment 0 has 71 tokens", Assert.Throws<ArgumentException>(() => Create().CreateBatch(RandomSegments(1, 71, vocabSize: OrdinaryEnd), 64, new Rng(1))).Message, StringComparison.Ordinal);
    }
}
