using Sharpformer.Tensors;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using static Sharpformer.Tests.Training.Objectives.ObjectiveData;

namespace Sharpformer.Tests.Training.Objectives;

public sealed class MaskedLmObjectiveTests
{
    private static MaskedLmObjective Create(MaskedLmOptions? options = null) =>
        new(Cls, Sep, Mask, Pad, VocabSize, options, specialIds: [Unk]);

    /// <summary>Segments of ordinary ids with an embedded document separator and [UNK], which are never selected.</summary>
    private static List<ReadOnlyMemory<int>> Segments(int count, int length, ulong seed = 7)
    {
        var segments = new List<ReadOnlyMemory<int>>();
        foreach (var segment in RandomSegments(count, length, seed))
        {
            int[] ids = segment.ToArray();
            ids[length / 2] = Sep;
            ids[length / 3] = Unk;
            segments.Add(ids);
        }
        return segments;
    }

    [Fact]
    public void SelectsFifteenPercentAndReplacesEightyTenTen()
    {
        var objective = Create();
        var segments = Segments(2000, objective.SegmentLength(64));
        TrainingBatch batch = objective.CreateBatch(segments, 64, new Rng(42));
        int candidates = 0, selected = 0, masked = 0, random = 0, unchanged = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] original = [Cls, .. segments[b].Span, Sep];
            for (int t = 0; t < 64; t++)
            {
                int label = batch.Labels[b * 64 + t];
                int input = batch.InputIds[b * 64 + t];
                bool special = original[t] is Cls or Sep or Unk;
                candidates += special ? 0 : 1;
                if (label == TrainingBatch.IgnoreIndex)
                {
                    Assert.Equal(original[t], input); // unselected tokens are untouched
                    continue;
                }
                Assert.False(special, "a special token was selected");
                Assert.Equal(original[t], label);
                selected++;
                if (input == Mask)
                {
                    masked++;
                }
                else if (input == original[t])
                {
                    unchanged++;
                }
                else
                {
                    random++;
                }
            }
        }
        Assert.InRange((double)selected / candidates, 0.14, 0.16);
        Assert.InRange((double)masked / selected, 0.79, 0.81);
        Assert.InRange((double)random / selected, 0.09, 0.11);
        Assert.InRange((double)unchanged / selected, 0.09, 0.11);
        Assert.False(batch.ShiftLabels);
        Assert.Equal(selected, batch.TargetCount);
        Assert.Null(batch.AttentionMask);
        Assert.Null(batch.TokenTypeIds);
    }

    [Fact]
    public void LabelsAndUnselectedInputsReconstructTheRowAndShortRowsArePadded()
    {
        var objective = Create();
        List<ReadOnlyMemory<int>> segments = [.. Segments(3, 14), new int[] { 7, 8, 9 }];
        TrainingBatch batch = objective.CreateBatch(segments, 16, new Rng(3));
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] original = [Cls, .. segments[b].Span, Sep];
            int[] rebuilt = new int[16];
            for (int t = 0; t < 16; t++)
            {
                int label = batch.Labels[b * 16 + t];
                rebuilt[t] = label != TrainingBatch.IgnoreIndex ? label : batch.InputIds[b * 16 + t];
            }
            Assert.Equal(original, rebuilt[..original.Length]);
            Assert.All(rebuilt[original.Length..], id => Assert.Equal(Pad, id));
        }
        Assert.Equal([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], Row(batch.AttentionMask!, 3, 16));
        Assert.All(Row(batch.Labels, 3, 16)[5..], label => Assert.Equal(TrainingBatch.IgnoreIndex, label));
    }

    [Fact]
    public void WholeWordMaskingSelectsEveryPieceOfAWordOrNone()
    {
        var bert = Bert.Value;
        int[] stream = [.. bert.Encode(AustenText[..20000])];
        var objective = new MaskedLmObjective(
            bert.ClsTokenId, bert.SepTokenId, bert.MaskTokenId, bert.PadTokenId, bert.VocabSize,
            new MaskedLmOptions { IsContinuation = id => bert.IdToToken(id)!.StartsWith("##", StringComparison.Ordinal) });
        var segments = Cut(stream, objective.SegmentLength(64));
        TrainingBatch batch = objective.CreateBatch(segments, 64, new Rng(5));
        int words = 0, selectedWords = 0, splitWords = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] original = [bert.ClsTokenId, .. segments[b].Span, bert.SepTokenId];
            for (int t = 1; t < original.Length - 1;)
            {
                int end = t + 1;
                while (end < original.Length - 1 && bert.IdToToken(original[end])!.StartsWith("##", StringComparison.Ordinal))
                {
                    end++;
                }
                var wordLabels = batch.Labels.AsSpan(b * 64 + t, end - t).ToArray();
                bool first = wordLabels[0] != TrainingBatch.IgnoreIndex;
                Assert.All(wordLabels, label => Assert.Equal(first, label != TrainingBatch.IgnoreIndex));
                words++;
                selectedWords += first ? 1 : 0;
                splitWords += end - t > 1 ? 1 : 0;
                t = end;
            }
        }
        Assert.True(splitWords > 100, $"only {splitWords} multi-piece words: the test text does not exercise whole words");
        Assert.InRange((double)selectedWords / words, 0.14, 0.16);
    }

    [Fact]
    public void SentencePairsGetTwoSeparatorsAndTokenTypes()
    {
        var objective = Create(new MaskedLmOptions { SentencePairs = true });
        Assert.Equal(13, objective.SegmentLength(16));
        var segments = RandomSegments(50, 13);
        TrainingBatch batch = objective.CreateBatch(segments, 16, new Rng(9));
        var splits = new HashSet<int>();
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] types = Row(batch.TokenTypeIds!, b, 16);
            int firstB = Array.IndexOf(types, 1);
            Assert.InRange(firstB, 3, 14);
            Assert.All(types[..firstB], type => Assert.Equal(0, type));
            Assert.All(types[firstB..], type => Assert.Equal(1, type));
            int[] rebuilt = Row(batch.InputIds, b, 16);
            int[] labels = Row(batch.Labels, b, 16);
            for (int t = 0; t < 16; t++)
            {
                rebuilt[t] = labels[t] != TrainingBatch.IgnoreIndex ? labels[t] : rebuilt[t];
            }
            int[] segment = segments[b].ToArray();
            Assert.Equal([Cls, .. segment[..(firstB - 2)], Sep, .. segment[(firstB - 2)..], Sep], rebuilt);
            splits.Add(firstB);
        }
        Assert.True(splits.Count > 5, "the split point should vary");
    }

    [Fact]
    public void SameSeedSameBatchDifferentSeedDifferentBatch()
    {
        var objective = Create(new MaskedLmOptions { SentencePairs = true });
        var segments = RandomSegments(4, 29);
        SameBatch(objective.CreateBatch(segments, 32, new Rng(11)), objective.CreateBatch(segments, 32, new Rng(11)));
        Assert.False(SameInputs(objective.CreateBatch(segments, 32, new Rng(11)), objective.CreateBatch(segments, 32, new Rng(12))));
    }

    [Fact]
    public void RefusesInvalidOptions()
    {
        Assert.Contains("MaskProbability", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new MaskedLmOptions { MaskProbability = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("MaskProbability", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new MaskedLmOptions { MaskProbability = 1.5 })).Message, StringComparison.Ordinal);
        Assert.Contains("RandomTokenFraction", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new MaskedLmOptions { MaskTokenFraction = 0.9, RandomTokenFraction = 0.2 })).Message, StringComparison.Ordinal);
        Assert.Contains("maskId", Assert.Throws<ArgumentOutOfRangeException>(() => new MaskedLmObjective(Cls, Sep, -1, Pad, VocabSize)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Create().SegmentLength(2));
        Assert.Contains("segment 0 has 15 tokens", Assert.Throws<ArgumentException>(() => Create().CreateBatch(RandomSegments(1, 15), 16, new Rng(1))).Message, StringComparison.Ordinal);
    }
}
