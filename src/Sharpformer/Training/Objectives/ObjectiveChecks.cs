namespace Sharpformer.Training.Objectives;

/// <summary>The argument checks every objective shares, each error naming the argument and the value.</summary>
internal static class ObjectiveChecks
{
    public static void Probability(double value, string name, bool allowZero = true, bool allowOne = true)
    {
        bool inside = value > 0 && value < 1 || allowZero && value == 0 || allowOne && value == 1;
        if (!inside)
        {
            string range = (allowZero ? "[0, " : "(0, ") + (allowOne ? "1]" : "1)");
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in {range}, got {value}.");
        }
    }

    public static void TokenId(int id, int vocabSize, string name)
    {
        if ((uint)id >= (uint)vocabSize)
        {
            throw new ArgumentOutOfRangeException(name, id, $"{name} {id} is not a token id of a vocabulary of {vocabSize}.");
        }
    }

    public static void VocabSize(int vocabSize)
    {
        if (vocabSize < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"vocabSize must be at least 2, got {vocabSize}.");
        }
    }

    /// <summary>The vocabulary size and the four special ids of the BERT-vocabulary objectives (MLM, UniLM).</summary>
    public static void BertSpecialIds(int clsId, int sepId, int maskId, int padId, int vocabSize)
    {
        VocabSize(vocabSize);
        TokenId(clsId, vocabSize, nameof(clsId));
        TokenId(sepId, vocabSize, nameof(sepId));
        TokenId(maskId, vocabSize, nameof(maskId));
        TokenId(padId, vocabSize, nameof(padId));
    }

    /// <summary>Refuses an empty batch, an empty or over-long segment, and ids outside the vocabulary.</summary>
    public static void Segments(string objective, IReadOnlyList<ReadOnlyMemory<int>> segments, int maxLength, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(segments);
        if (segments.Count == 0)
        {
            throw new ArgumentException($"{objective}: the batch has no segments.", nameof(segments));
        }
        for (int b = 0; b < segments.Count; b++)
        {
            ReadOnlySpan<int> segment = segments[b].Span;
            if (segment.Length == 0 || segment.Length > maxLength)
            {
                throw new ArgumentException(
                    $"{objective}: segment {b} has {segment.Length} tokens; it needs 1 to {maxLength} (SegmentLength).",
                    nameof(segments));
            }
            foreach (int id in segment)
            {
                if ((uint)id >= (uint)vocabSize)
                {
                    throw new ArgumentException(
                        $"{objective}: segment {b} holds token id {id}, outside the vocabulary of {vocabSize}.", nameof(segments));
                }
            }
        }
    }

    public static void SequenceLength(string objective, int sequenceLength, int minimum)
    {
        if (sequenceLength < minimum)
        {
            throw new ArgumentOutOfRangeException(
                nameof(sequenceLength), sequenceLength, $"{objective} needs a sequenceLength of at least {minimum}, got {sequenceLength}.");
        }
    }

    public static void ReplacementFractions(double maskFraction, double randomFraction, string maskName, string randomName)
    {
        Probability(maskFraction, maskName);
        Probability(randomFraction, randomName);
        if (maskFraction + randomFraction > 1 + 1e-12)
        {
            throw new ArgumentOutOfRangeException(
                randomName, randomFraction, $"{maskName} + {randomName} must be at most 1, got {maskFraction} + {randomFraction}.");
        }
    }
}
