using Sharpformer.Tensors;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using static Sharpformer.Tests.Training.Objectives.ObjectiveData;

namespace Sharpformer.Tests.Training.Objectives;

public sealed class UniLmObjectiveTests
{
    private static UniLmObjective Create(UniLmOptions? options = null) => new(Cls, Sep, Mask, Pad, VocabSize, options, specialIds: [Unk]);

    private static bool Sees(TrainingBatch batch, int b, int query, int key) =>
        batch.Visibility![(b * batch.Length + query) * batch.Length + key] == 1;

    private static int RowLength(TrainingBatch batch, int b) =>
        batch.AttentionMask is null ? batch.Length : Row(batch.AttentionMask, b, batch.Length).Sum();

    /// <summary>Reads the mode back from the visibility of [CLS] and the last token.</summary>
    private static UniLmMode ModeOf(TrainingBatch batch, int b)
    {
        int last = RowLength(batch, b) - 1;
        return (Sees(batch, b, 0, last), Sees(batch, b, last, 0)) switch
        {
            (true, true) => UniLmMode.Bidirectional,
            (true, false) => UniLmMode.RightToLeft,
            _ => Sees(batch, b, 0, 1) ? UniLmMode.SequenceToSequence : UniLmMode.LeftToRight,
        };
    }

    [Fact]
    public void ModesFollowThePapersProportions()
    {
        var objective = Create();
        TrainingBatch batch = objective.CreateBatch(RandomSegments(20_000, 5), 8, new Rng(1));
        var counts = Enumerable.Range(0, batch.BatchSize).GroupBy(b => ModeOf(batch, b)).ToDictionary(group => group.Key, group => group.Count() / 20_000.0);
        Assert.InRange(counts[UniLmMode.Bidirectional], 1.0 / 3 - 0.01, 1.0 / 3 + 0.01);
        Assert.InRange(counts[UniLmMode.SequenceToSequence], 1.0 / 3 - 0.01, 1.0 / 3 + 0.01);
        Assert.InRange(counts[UniLmMode.LeftToRight], 1.0 / 6 - 0.01, 1.0 / 6 + 0.01);
        Assert.InRange(counts[UniLmMode.RightToLeft], 1.0 / 6 - 0.01, 1.0 / 6 + 0.01);

        var onlyLeftToRight = Create(new UniLmOptions { BidirectionalWeight = 0, SequenceToSequenceWeight = 0, RightToLeftWeight = 0, LeftToRightWeight = 2 });
        TrainingBatch causal = onlyLeftToRight.CreateBatch(RandomSegments(50, 5), 8, new Rng(1));
        Assert.All(Enumerable.Range(0, 50), b => Assert.Equal(UniLmMode.LeftToRight, ModeOf(causal, b)));
    }

    [Fact]
    public void VisibilityAndTokenTypesMatchEachMode()
    {
        var objective = Create();
        List<ReadOnlyMemory<int>> segments = [.. RandomSegments(80, 13), new int[] { 9, 10, 11 }];
        TrainingBatch batch = objective.CreateBatch(segments, 16, new Rng(2));
        var modes = new HashSet<UniLmMode>();
        for (int b = 0; b < batch.BatchSize; b++)
        {
            UniLmMode mode = ModeOf(batch, b);
            modes.Add(mode);
            int rowLength = RowLength(batch, b);
            int[] types = Row(batch.TokenTypeIds!, b, 16);
            int sourceLength = Array.IndexOf(types, 1) is var first && first >= 0 ? first : rowLength;
            int[] input = Row(batch.InputIds, b, 16);
            Assert.Equal(Cls, input[0]);
            Assert.Equal(Sep, input[rowLength - 1]);
            Assert.Equal(Sep, input[sourceLength - 1]);
            Assert.All(types[rowLength..], type => Assert.Equal(0, type));
            if (mode is UniLmMode.LeftToRight or UniLmMode.RightToLeft)
            {
                Assert.Equal(rowLength, sourceLength); // one segment, types all 0
            }
            for (int i = 0; i < 16; i++)
            {
                for (int j = 0; j < 16; j++)
                {
                    bool expected = j < rowLength && (i >= rowLength || mode switch
                    {
                        UniLmMode.Bidirectional => true,
                        UniLmMode.LeftToRight => j <= i,
                        UniLmMode.RightToLeft => j >= i,
                        _ => j < sourceLength || j <= i,
                    });
                    Assert.Equal(expected, Sees(batch, b, i, j));
                }
            }
        }
        Assert.Equal(4, modes.Count);
    }

    [Fact]
    public void MasksFifteenPercentEightyTenTenAndLabelsRebuildTheRow()
    {
        var objective = Create();
        var segments = RandomSegments(2000, 61);
        TrainingBatch batch = objective.CreateBatch(segments, 64, new Rng(3));
        long candidates = 0, selected = 0, masked = 0, unchanged = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] input = Row(batch.InputIds, b, 64);
            int[] labels = Row(batch.Labels, b, 64);
            int[] original = [.. input.Select((id, t) => labels[t] != TrainingBatch.IgnoreIndex ? labels[t] : id)];
            // Dropping the separators from the rebuilt row gives the segment back.
            Assert.True(segments[b].Span.SequenceEqual(original.Where(id => id is not (Cls or Sep or Pad)).ToArray()), $"row {b} does not rebuild its segment");
            for (int t = 0; t < 64; t++)
            {
                bool special = original[t] is Cls or Sep or Pad;
                candidates += special ? 0 : 1;
                if (labels[t] == TrainingBatch.IgnoreIndex)
                {
                    continue;
                }
                Assert.True(!special, "a special token was selected");
                selected++;
                masked += input[t] == Mask ? 1 : 0;
                unchanged += input[t] == labels[t] ? 1 : 0;
            }
        }
        Assert.InRange((double)selected / candidates, 0.14, 0.16);
        Assert.InRange((double)masked / selected, 0.79, 0.81);
        Assert.InRange((double)unchanged / selected, 0.09, 0.11);
        Assert.InRange((double)(selected - masked - unchanged) / selected, 0.09, 0.11);
        Assert.Equal(selected, batch.TargetCount);
        Assert.False(batch.ShiftLabels);
    }

    [Theory]
    [InlineData(0.0, 0.35)] // isolated picks: a neighbour is picked too about 1 - 0.85² of the time
    [InlineData(1.0, 0.9)]
    public void NgramPicksMaskRunsOfTokens(double ngramProbability, double bound)
    {
        var objective = Create(new UniLmOptions { NgramProbability = ngramProbability, BidirectionalWeight = 1, SequenceToSequenceWeight = 0, LeftToRightWeight = 0, RightToLeftWeight = 0 });
        TrainingBatch batch = objective.CreateBatch(RandomSegments(500, 61), 64, new Rng(4));
        long selected = 0, inRuns = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            bool[] target = [.. Row(batch.Labels, b, 64).Select(label => label != TrainingBatch.IgnoreIndex)];
            for (int t = 0; t < 64; t++)
            {
                selected += target[t] ? 1 : 0;
                inRuns += target[t] && (t > 0 && target[t - 1] || t < 63 && target[t + 1]) ? 1 : 0;
            }
        }
        double share = (double)inRuns / selected;
        Assert.True(ngramProbability == 0 ? share < bound : share > bound, $"share of tokens in masked runs {share}");
    }

    [Fact]
    public void SameSeedSameBatchDifferentSeedDifferentBatch()
    {
        var objective = Create();
        var segments = RandomSegments(4, 29);
        SameBatch(objective.CreateBatch(segments, 32, new Rng(5)), objective.CreateBatch(segments, 32, new Rng(5)));
        Assert.False(SameInputs(objective.CreateBatch(segments, 32, new Rng(5)), objective.CreateBatch(segments, 32, new Rng(6))));
    }

    [Fact]
    public void RefusesInvalidOptions()
    {
        Assert.Contains("mode weights", Assert.Throws<ArgumentException>(() => Create(new UniLmOptions { BidirectionalWeight = -1 })).Message, StringComparison.Ordinal);
        Assert.Contains("mode weights", Assert.Throws<ArgumentException>(() => Create(new UniLmOptions { BidirectionalWeight = 0, SequenceToSequenceWeight = 0, LeftToRightWeight = 0, RightToLeftWeight = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("MaxNgram", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new UniLmOptions { MaxNgram = 1 })).Message, StringComparison.Ordinal);
        Assert.Contains("MaskProbability", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new UniLmOptions { MaskProbability = -0.1 })).Message, StringComparison.Ordinal);
        Assert.Contains("RandomTokenFraction", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new UniLmOptions { RandomTokenFraction = 0.3 })).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Create().SegmentLength(4));
    }
}
