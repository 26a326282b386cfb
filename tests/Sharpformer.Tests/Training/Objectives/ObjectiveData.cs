using Sharpformer.Tensors;
using Sharpformer.Tokenizers;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training.Objectives;

/// <summary>Inputs shared by the objective tests: a tiny vocabulary of random ids and the Austen sample tokenized.</summary>
internal static class ObjectiveData
{
    // A BERT-like toy vocabulary: ids 0-4 special, 5.. ordinary.
    public const int Pad = 0, Unk = 1, Cls = 2, Sep = 3, Mask = 4, FirstOrdinary = 5, VocabSize = 1000;

    public static readonly Lazy<WordPieceTokenizer> Bert = new(() => (WordPieceTokenizer)Tokenizer.FromFolder(Fixture.File("tokenizers", "bert")));

    public static readonly Lazy<ByteLevelBpeTokenizer> Gpt2 = new(() => ByteLevelBpeTokenizer.FromFolder(Fixture.File("tokenizers", "gpt2")));

    public static string AustenText => File.ReadAllText(Fixture.File("corpus", "austen-sample.txt"));

    /// <summary><paramref name="count"/> segments of <paramref name="length"/> ordinary ids, drawn from a seed of its own.</summary>
    public static List<ReadOnlyMemory<int>> RandomSegments(int count, int length, ulong seed = 7, int low = FirstOrdinary, int vocabSize = VocabSize)
    {
        var rng = new Rng(seed);
        var segments = new List<ReadOnlyMemory<int>>(count);
        for (int i = 0; i < count; i++)
        {
            int[] segment = new int[length];
            for (int t = 0; t < length; t++)
            {
                segment[t] = low + rng.NextInt(vocabSize - low);
            }
            segments.Add(segment);
        }
        return segments;
    }

    /// <summary>The trainer's cut: the token stream into consecutive pieces of <paramref name="length"/> (a short last one kept).</summary>
    public static List<ReadOnlyMemory<int>> Cut(int[] stream, int length)
    {
        var segments = new List<ReadOnlyMemory<int>>();
        for (int start = 0; start < stream.Length; start += length)
        {
            segments.Add(stream.AsMemory(start, Math.Min(length, stream.Length - start)));
        }
        return segments;
    }

    public static int[] Row(int[] values, int row, int width) => values.AsSpan(row * width, width).ToArray();

    public static void SameBatch(TrainingBatch expected, TrainingBatch actual)
    {
        Assert.Equal(expected.BatchSize, actual.BatchSize);
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.InputIds, actual.InputIds);
        Assert.Equal(expected.Labels, actual.Labels);
        Assert.Equal(expected.AttentionMask, actual.AttentionMask);
        Assert.Equal(expected.TokenTypeIds, actual.TokenTypeIds);
        Assert.Equal(expected.TargetLength, actual.TargetLength);
        Assert.Equal(expected.DecoderInputIds, actual.DecoderInputIds);
        Assert.Equal(expected.Visibility, actual.Visibility);
        Assert.Equal(expected.PermutationMask, actual.PermutationMask);
        Assert.Equal(expected.TargetMapping, actual.TargetMapping);
        Assert.Equal(expected.PredictCount, actual.PredictCount);
    }

    public static bool SameInputs(TrainingBatch a, TrainingBatch b) => a.InputIds.AsSpan().SequenceEqual(b.InputIds) && a.Labels.AsSpan().SequenceEqual(b.Labels);
}
