using Sharpformer.Tensors;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using static Sharpformer.Tests.Training.Objectives.ObjectiveData;

namespace Sharpformer.Tests.Training.Objectives;

public sealed class DenoisingObjectiveTests
{
    // A BART-like toy vocabulary: <s> 0, <pad> 1, </s> 2, <mask> 4, full stop 5, ordinary ids 6..999.
    private const int Bos = 0, BartPad = 1, Eos = 2, BartMask = 4, FullStop = 5;

    private static DenoisingObjective Create(DenoisingOptions options) => new(Bos, Eos, BartPad, BartMask, VocabSize, [FullStop], options);

    private static readonly DenoisingOptions s_off = new() { TextInfillingProbability = 0, SentencePermutationProbability = 0 };

    /// <summary>Segments of ordinary ids with a full stop after every 5 to 12 tokens and at the end.</summary>
    private static List<ReadOnlyMemory<int>> Sentences(int count, int length, ulong seed = 7)
    {
        var rng = new Rng(seed);
        var segments = new List<ReadOnlyMemory<int>>();
        for (int i = 0; i < count; i++)
        {
            int[] ids = new int[length];
            int nextStop = 5 + rng.NextInt(8);
            for (int t = 0; t < length; t++)
            {
                ids[t] = t == nextStop ? FullStop : 6 + rng.NextInt(VocabSize - 6);
                nextStop += t == nextStop ? 6 + rng.NextInt(8) : 0;
            }
            ids[^1] = FullStop;
            segments.Add(ids);
        }
        return segments;
    }

    /// <summary>The noised part of row <paramref name="b"/>: between &lt;s&gt; and &lt;/s&gt;.</summary>
    private static int[] Noised(TrainingBatch batch, int b)
    {
        int[] row = Row(batch.InputIds, b, batch.Length);
        Assert.Equal(Bos, row[0]);
        int end = Array.LastIndexOf(row, Eos);
        Assert.All(row[(end + 1)..], id => Assert.Equal(BartPad, id));
        return row[1..end];
    }

    private static void AssertLabelsAreTheOriginal(TrainingBatch batch, IReadOnlyList<ReadOnlyMemory<int>> segments)
    {
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] expected = [Bos, .. segments[b].Span, Eos, .. Enumerable.Repeat(TrainingBatch.IgnoreIndex, batch.Length - segments[b].Length - 2)];
            Assert.Equal(expected, Row(batch.Labels, b, batch.Length));
            Assert.Equal([Eos, .. expected[..^1].Select(id => id == TrainingBatch.IgnoreIndex ? BartPad : id)], Row(batch.DecoderInputIds!, b, batch.Length));
        }
        Assert.Equal(batch.Length, batch.TargetLength);
    }

    /// <summary>True when <paramref name="noised"/> is <paramref name="original"/> with spans (possibly empty) each replaced by one mask.</summary>
    private static bool IsInfilled(int[] noised, int[] original)
    {
        // reachable[i, j]: noised[..i] explains original[..j].
        bool[,] reachable = new bool[noised.Length + 1, original.Length + 1];
        reachable[0, 0] = true;
        for (int i = 0; i <= noised.Length; i++)
        {
            for (int j = 0; j <= original.Length; j++)
            {
                if (!reachable[i, j] || i == noised.Length)
                {
                    continue;
                }
                if (noised[i] == BartMask)
                {
                    for (int k = j; k <= original.Length; k++)
                    {
                        reachable[i + 1, k] = true;
                    }
                }
                else if (j < original.Length && noised[i] == original[j])
                {
                    reachable[i + 1, j + 1] = true;
                }
            }
        }
        return reachable[noised.Length, original.Length];
    }

    [Fact]
    public void TextInfillingHidesThirtyPercentInPoissonSpansEachOneMask()
    {
        var objective = Create(s_off with { TextInfillingProbability = 0.3 });
        // Rows as long as BART's, so that trimming the last span to hit 30% barely shortens the mean.
        var segments = RandomSegments(100, objective.SegmentLength(512), low: 6);
        TrainingBatch batch = objective.CreateBatch(segments, 512, new Rng(2));
        AssertLabelsAreTheOriginal(batch, segments);
        long hidden = 0, masks = 0, tokens = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] noised = Noised(batch, b);
            int[] original = segments[b].ToArray();
            Assert.True(IsInfilled(noised, original), $"row {b} is not the original with spans masked");
            Assert.DoesNotContain(noised.Zip(noised.Skip(1)), pair => pair.First == BartMask && pair.Second == BartMask);
            int kept = noised.Count(id => id != BartMask);
            hidden += original.Length - kept;
            masks += noised.Length - kept;
            tokens += original.Length;
        }
        Assert.InRange((double)hidden / tokens, 0.29, 0.31);
        Assert.InRange((double)hidden / masks, 3 * 0.95, 3 * 1.05);
    }

    [Fact]
    public void ZeroLengthSpansInsertAMask()
    {
        // With a small λ many spans are empty: some masks then stand between two tokens that were neighbours.
        var objective = Create(s_off with { TextInfillingProbability = 0.2, PoissonLambda = 0.5 });
        var segments = RandomSegments(50, 62, low: 6);
        TrainingBatch batch = objective.CreateBatch(segments, 64, new Rng(3));
        int insertions = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] noised = Noised(batch, b);
            int[] original = segments[b].ToArray();
            Assert.True(IsInfilled(noised, original));
            for (int t = 1; t + 1 < noised.Length; t++)
            {
                int before = Array.IndexOf(original, noised[t - 1]);
                insertions += noised[t] == BartMask && before >= 0 && before + 1 < original.Length && original[before + 1] == noised[t + 1] ? 1 : 0;
            }
        }
        Assert.True(insertions > 20, $"only {insertions} inserted masks");
    }

    [Theory]
    [InlineData(0.15, 0)]
    [InlineData(0, 0.2)]
    public void TokenMaskingAndDeletionHitTheirRates(double masking, double deletion)
    {
        var objective = Create(s_off with { TokenMaskingProbability = masking, TokenDeletionProbability = deletion });
        var segments = RandomSegments(400, 126, low: 6);
        TrainingBatch batch = objective.CreateBatch(segments, 128, new Rng(4));
        AssertLabelsAreTheOriginal(batch, segments);
        long masked = 0, deleted = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] noised = Noised(batch, b);
            int[] original = segments[b].ToArray();
            masked += noised.Count(id => id == BartMask);
            deleted += original.Length - noised.Length;
            // Masking keeps every other token in place; deletion keeps the rest in order.
            Assert.True(masking > 0
                ? noised.Zip(original).All(pair => pair.First == BartMask || pair.First == pair.Second)
                : IsSubsequence(noised, original));
        }
        Assert.InRange((double)masked / (400 * 126), masking - 0.01, masking + 0.01);
        Assert.InRange((double)deleted / (400 * 126), deletion - 0.01, deletion + 0.01);
    }

    private static bool IsSubsequence(int[] part, int[] whole)
    {
        int j = 0;
        foreach (int id in whole)
        {
            j += j < part.Length && part[j] == id ? 1 : 0;
        }
        return j == part.Length;
    }

    private static List<string> SentencesOf(IEnumerable<int> ids)
    {
        var sentences = new List<string>();
        var current = new List<int>();
        foreach (int id in ids)
        {
            current.Add(id);
            if (id == FullStop)
            {
                sentences.Add(string.Join(' ', current));
                current.Clear();
            }
        }
        if (current.Count > 0)
        {
            sentences.Add(string.Join(' ', current));
        }
        return sentences;
    }

    [Fact]
    public void SentencePermutationReordersWholeSentences()
    {
        var objective = Create(s_off with { SentencePermutationProbability = 1.0 });
        var segments = Sentences(100, 62);
        TrainingBatch batch = objective.CreateBatch(segments, 64, new Rng(5));
        AssertLabelsAreTheOriginal(batch, segments);
        int reordered = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            List<string> original = SentencesOf(segments[b].ToArray());
            List<string> noised = SentencesOf(Noised(batch, b));
            Assert.True(original.Count >= 4);
            // The same sentences, whole, in another order.
            Assert.Equal(original.Order(StringComparer.Ordinal), noised.Order(StringComparer.Ordinal));
            reordered += original.SequenceEqual(noised) ? 0 : 1;
        }
        Assert.True(reordered > 90, $"only {reordered} of 100 rows were reordered");
    }

    [Fact]
    public void DocumentRotationRotatesHalfTheRowsToANewStart()
    {
        var objective = Create(s_off with { DocumentRotationProbability = 0.5 });
        var segments = RandomSegments(20_000, 6, low: 6);
        TrainingBatch batch = objective.CreateBatch(segments, 8, new Rng(6));
        int rotated = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] noised = Noised(batch, b);
            int[] original = segments[b].ToArray();
            int offset = Enumerable.Range(0, 6).First(o => noised.SequenceEqual([.. original[o..], .. original[..o]]));
            rotated += offset > 0 ? 1 : 0;
        }
        Assert.InRange(rotated / 20_000.0, 0.49, 0.51);
    }

    [Fact]
    public void AllNoisesTogetherKeepLabelsOriginalAndTheInputWithinLength()
    {
        var objective = Create(new DenoisingOptions
        {
            TokenMaskingProbability = 0.1, TokenDeletionProbability = 0.1, TextInfillingProbability = 0.3,
            SentencePermutationProbability = 0.5, DocumentRotationProbability = 0.5, RandomTokenFraction = 0.1,
        });
        List<ReadOnlyMemory<int>> segments = [.. Sentences(30, 30), new int[] { 9, 10, 11 }];
        TrainingBatch batch = objective.CreateBatch(segments, 32, new Rng(7));
        AssertLabelsAreTheOriginal(batch, segments);
        Assert.NotNull(batch.AttentionMask);
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int used = Noised(batch, b).Length + 2;
            Assert.Equal([.. Enumerable.Repeat(1, used), .. Enumerable.Repeat(0, 32 - used)], Row(batch.AttentionMask!, b, 32));
        }
    }

    [Fact]
    public void SameSeedSameBatchDifferentSeedDifferentBatch()
    {
        var objective = Create(new DenoisingOptions { DocumentRotationProbability = 0.5 });
        var segments = Sentences(4, 30);
        SameBatch(objective.CreateBatch(segments, 32, new Rng(8)), objective.CreateBatch(segments, 32, new Rng(8)));
        Assert.False(SameInputs(objective.CreateBatch(segments, 32, new Rng(8)), objective.CreateBatch(segments, 32, new Rng(9))));
    }

    [Fact]
    public void RefusesInvalidOptions()
    {
        Assert.Contains("every noise is switched off", Assert.Throws<ArgumentException>(() => Create(s_off)).Message, StringComparison.Ordinal);
        Assert.Contains("TextInfillingProbability", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new DenoisingOptions { TextInfillingProbability = 1.2 })).Message, StringComparison.Ordinal);
        Assert.Contains("TokenDeletionProbability", Assert.Throws<ArgumentOutOfRangeException>(() => Create(s_off with { TokenDeletionProbability = 1 })).Message, StringComparison.Ordinal);
        Assert.Contains("PoissonLambda", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new DenoisingOptions { PoissonLambda = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("fullStopIds", Assert.Throws<ArgumentException>(() => new DenoisingObjective(Bos, Eos, BartPad, BartMask, VocabSize)).Message, StringComparison.Ordinal);
        Assert.Contains("segment 0 has 31 tokens", Assert.Throws<ArgumentException>(() => Create(new DenoisingOptions()).CreateBatch(RandomSegments(1, 31, low: 6), 32, new Rng(1))).Message, StringComparison.Ordinal);
    }
}
