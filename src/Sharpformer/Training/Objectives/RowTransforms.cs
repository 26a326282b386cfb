using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>Row transforms more than one objective uses.</summary>
internal static class RowTransforms
{
    /// <summary>
    /// BERT's replacement of selected positions (HF DataCollatorForLanguageModeling): the label keeps the original id,
    /// the input becomes [MASK] with probability <paramref name="maskFraction"/>, a uniformly random id with
    /// <paramref name="randomFraction"/>, and stays unchanged otherwise. Positions past the end of
    /// <paramref name="selected"/> (a row's padding) are never selected.
    /// </summary>
    public static void ReplaceSelected(
        Span<int> ids, ReadOnlySpan<bool> selected, int maskId, int vocabSize, double maskFraction, double randomFraction,
        Rng rng, Span<int> labels)
    {
        for (int t = 0; t < ids.Length; t++)
        {
            if (t >= selected.Length || !selected[t])
            {
                labels[t] = TrainingBatch.IgnoreIndex;
                continue;
            }
            labels[t] = ids[t];
            double draw = rng.NextDouble();
            if (draw < maskFraction)
            {
                ids[t] = maskId;
            }
            else if (draw < maskFraction + randomFraction)
            {
                ids[t] = rng.NextInt(vocabSize);
            }
        }
    }

    /// <summary>HF shift_tokens_right: decoder inputs = [start] + labels[:-1], with -100 turned into the pad id.</summary>
    public static void ShiftTokensRight(ReadOnlySpan<int> labels, int decoderStartId, int padId, Span<int> decoderInputs)
    {
        decoderInputs[0] = decoderStartId;
        for (int t = 1; t < labels.Length; t++)
        {
            decoderInputs[t] = labels[t - 1] == TrainingBatch.IgnoreIndex ? padId : labels[t - 1];
        }
    }
}
