using Sharpformer.Tensors;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using static Sharpformer.Tests.Training.Objectives.ObjectiveData;

namespace Sharpformer.Tests.Training.Objectives;

public sealed class CausalLmObjectiveTests
{
    private static readonly CausalLmObjective s_clm = new(eosId: Sep, vocabSize: VocabSize, padId: Pad);

    [Fact]
    public void FullRowsAreTheSegmentsAsInputsAndLabelsWithoutPadding()
    {
        var segments = RandomSegments(3, 16);
        TrainingBatch batch = s_clm.CreateBatch(segments, 16, new Rng(1));
        Assert.Equal("clm", s_clm.Name);
        Assert.Equal(Sep, s_clm.DocumentSeparator);
        Assert.Equal(16, s_clm.SegmentLength(16));
        Assert.Equal((3, 16), (batch.BatchSize, batch.Length));
        for (int b = 0; b < 3; b++)
        {
            Assert.Equal(segments[b].ToArray(), Row(batch.InputIds, b, 16));
            Assert.Equal(segments[b].ToArray(), Row(batch.Labels, b, 16));
        }
        Assert.True(batch.ShiftLabels);
        Assert.Null(batch.AttentionMask);
        Assert.Equal(3 * 15, batch.TargetCount);
    }

    [Fact]
    public void PackedDocumentsKeepTheirEosAndAShortLastRowIsPadded()
    {
        // Two "documents" joined with EOS, as the trainer does, then cut into rows of 8.
        int[] stream = [.. Enumerable.Range(10, 9), Sep, .. Enumerable.Range(40, 3)];
        var segments = Cut(stream, 8);
        TrainingBatch batch = s_clm.CreateBatch(segments, 8, new Rng(1));
        Assert.Equal(stream[..8], Row(batch.InputIds, 0, 8));
        Assert.Equal([18, Sep, 40, 41, 42, Pad, Pad, Pad], Row(batch.InputIds, 1, 8));
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], batch.AttentionMask!);
        Assert.Equal([18, Sep, 40, 41, 42, -100, -100, -100], Row(batch.Labels, 1, 8));
        Assert.Equal(7 + 4, batch.TargetCount);
    }

    [Fact]
    public void IgnoresTheRngSoAnySeedGivesTheSameBatch()
    {
        var segments = RandomSegments(2, 12);
        SameBatch(s_clm.CreateBatch(segments, 12, new Rng(1)), s_clm.CreateBatch(segments, 12, new Rng(2)));
    }

    [Fact]
    public void RefusesBadSegmentsAndIds()
    {
        var error = Assert.Throws<ArgumentException>(() => s_clm.CreateBatch(RandomSegments(2, 9), 8, new Rng(1)));
        Assert.Contains("segment 0 has 9 tokens", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => s_clm.CreateBatch([new int[] { 5, VocabSize }], 8, new Rng(1)));
        Assert.Contains("token id 1000", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => s_clm.CreateBatch([], 8, new Rng(1)));
        Assert.Throws<ArgumentException>(() => s_clm.CreateBatch([ReadOnlyMemory<int>.Empty], 8, new Rng(1)));
        Assert.Contains("eosId", Assert.Throws<ArgumentOutOfRangeException>(() => new CausalLmObjective(VocabSize, VocabSize)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => s_clm.SegmentLength(1));
    }
}
