using Sharpformer.Tensors;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using static Sharpformer.Tests.Training.Objectives.ObjectiveData;

namespace Sharpformer.Tests.Training.Objectives;

public sealed class PermutationLmObjectiveTests
{
    private static PermutationLmObjective Create(PermutationLmOptions? options = null) => new(Mask, Pad, Sep, VocabSize, options, specialIds: [Cls]);

    private static bool Hidden(TrainingBatch batch, int b, int query, int key) =>
        batch.PermutationMask![(b * batch.Length + query) * batch.Length + key] == 1f;

    [Fact]
    public void PredictsOneSixthInSpansAndLabelsRebuildTheSegment()
    {
        var objective = Create();
        var segments = RandomSegments(250, 120);
        TrainingBatch batch = objective.CreateBatch(segments, 120, new Rng(1));
        Assert.Equal((120, 120), (batch.PredictCount, batch.Length));
        int predicted = 0, wrong = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            ReadOnlySpan<int> segment = segments[b].Span;
            for (int t = 0; t < 120; t++)
            {
                int input = batch.InputIds[b * 120 + t], label = batch.Labels[b * 120 + t];
                bool target = label != TrainingBatch.IgnoreIndex;
                // A target is masked in the input and its label is the token; the rest is the token itself.
                wrong += (target ? input == Mask && label == segment[t] : input == segment[t]) ? 0 : 1;
                predicted += target ? 1 : 0;
            }
        }
        Assert.Equal(0, wrong);
        Assert.InRange(predicted / (250 * 120.0), 1.0 / 6 - 0.01, 1.0 / 6 + 0.01);
        Assert.Equal(predicted, batch.TargetCount);
        // HF's target_mapping: the identity.
        float[] identity = new float[120 * 120];
        for (int i = 0; i < 120; i++)
        {
            identity[i * 120 + i] = 1f;
        }
        Assert.True(identity.AsSpan().SequenceEqual(batch.TargetMapping.AsSpan(0, 120 * 120)));
    }

    [Fact]
    public void PermutationMaskFollowsOneFactorisationOrder()
    {
        var objective = Create();
        const int Length = 48;
        List<ReadOnlyMemory<int>> segments = [.. RandomSegments(30, Length), new int[] { 7, Sep, 9, 10, 11 }];
        TrainingBatch batch = objective.CreateBatch(segments, Length, new Rng(2));
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] labels = Row(batch.Labels, b, Length);
            bool[] target = [.. labels.Select(label => label != TrainingBatch.IgnoreIndex)];
            int[] seen = new int[Length];
            for (int i = 0; i < Length; i++)
            {
                for (int j = 0; j < Length; j++)
                {
                    if (!target[j])
                    {
                        Assert.False(Hidden(batch, b, i, j), "context that is not predicted is visible to all");
                    }
                    else if (target[i] && i != j)
                    {
                        // Of two predicted tokens exactly one comes first and is seen by the other.
                        Assert.NotEqual(Hidden(batch, b, i, j), Hidden(batch, b, j, i));
                        if (i >= Length / 2 && j < Length / 2)
                        {
                            Assert.False(Hidden(batch, b, i, j), "HF's order puts the first half before the second");
                        }
                    }
                    else if (!target[i] && b < 30)
                    {
                        Assert.True(Hidden(batch, b, i, j), "unpredicted context never sees a predicted token");
                    }
                }
                if (target[i])
                {
                    Assert.True(Hidden(batch, b, i, i), "a predicted token never sees itself");
                    seen[i] = Enumerable.Range(0, Length).Count(j => target[j] && !Hidden(batch, b, i, j));
                }
            }
            // Predicted tokens see 0, 1, 2, … earlier predicted tokens: a strict order.
            Assert.Equal(Enumerable.Range(0, target.Count(t => t)), Enumerable.Range(0, Length).Where(i => target[i]).Select(i => seen[i]).Order());
        }
        // The short last row: separator and padding are never predicted, padding is not attended to.
        int[] lastLabels = Row(batch.Labels, 30, Length);
        Assert.Equal(TrainingBatch.IgnoreIndex, lastLabels[1]);
        Assert.All(lastLabels[5..], label => Assert.Equal(TrainingBatch.IgnoreIndex, label));
        Assert.Equal([1, 1, 1, 1, 1, .. Enumerable.Repeat(0, Length - 5)], Row(batch.AttentionMask!, 30, Length));
    }

    [Fact]
    public void FactorisationOrdersDifferBetweenRows()
    {
        var objective = Create();
        var segments = RandomSegments(20, 24);
        TrainingBatch batch = objective.CreateBatch(segments, 24, new Rng(3));
        var orders = new HashSet<string>();
        for (int b = 0; b < 20; b++)
        {
            orders.Add(string.Join(',', batch.PermutationMask!.AsSpan(b * 24 * 24, 24 * 24).ToArray()));
        }
        Assert.True(orders.Count > 15);
    }

    [Fact]
    public void CompactTargetsListOnlyThePredictedPositions()
    {
        var segments = RandomSegments(6, 64);
        TrainingBatch full = Create().CreateBatch(segments, 64, new Rng(4));
        TrainingBatch compact = Create(new PermutationLmOptions { CompactTargets = true }).CreateBatch(segments, 64, new Rng(4));
        Assert.Equal(full.InputIds, compact.InputIds);
        Assert.Equal(full.PermutationMask, compact.PermutationMask);
        int[] counts = [.. Enumerable.Range(0, 6).Select(b => Row(full.Labels, b, 64).Count(label => label != TrainingBatch.IgnoreIndex))];
        Assert.Equal(counts.Max(), compact.PredictCount);
        Assert.Equal(full.TargetCount, compact.TargetCount);
        for (int b = 0; b < 6; b++)
        {
            for (int p = 0; p < compact.PredictCount; p++)
            {
                float[] mapping = compact.TargetMapping!.AsSpan((b * compact.PredictCount + p) * 64, 64).ToArray();
                int label = compact.Labels[b * compact.PredictCount + p];
                if (p >= counts[b])
                {
                    Assert.Equal(TrainingBatch.IgnoreIndex, label);
                    Assert.All(mapping, value => Assert.Equal(0f, value));
                    continue;
                }
                int position = Array.IndexOf(mapping, 1f);
                Assert.Equal(1f, mapping.Sum());
                Assert.Equal(full.Labels[b * 64 + position], label);
            }
        }
    }

    [Fact]
    public void SameSeedSameBatchDifferentSeedDifferentBatch()
    {
        var objective = Create();
        var segments = RandomSegments(3, 32);
        SameBatch(objective.CreateBatch(segments, 32, new Rng(5)), objective.CreateBatch(segments, 32, new Rng(5)));
        Assert.False(SameInputs(objective.CreateBatch(segments, 32, new Rng(5)), objective.CreateBatch(segments, 32, new Rng(6))));
    }

    [Fact]
    public void RefusesInvalidOptions()
    {
        Assert.Contains("even sequenceLength", Assert.Throws<ArgumentException>(() => Create().SegmentLength(33)).Message, StringComparison.Ordinal);
        Assert.Contains("PlmProbability", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new PermutationLmOptions { PlmProbability = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("MaxSpanLength", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new PermutationLmOptions { MaxSpanLength = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("padId", Assert.Throws<ArgumentOutOfRangeException>(() => new PermutationLmObjective(Mask, VocabSize, Sep, VocabSize)).Message, StringComparison.Ordinal);
    }
}
