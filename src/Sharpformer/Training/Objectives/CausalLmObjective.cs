using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>
/// Causal language modelling (GPT-2): documents packed into one stream separated by EOS, cut into rows of
/// sequenceLength tokens; labels equal the inputs and the model shifts them (HF's GPT-2 convention, ShiftLabels).
/// Full rows need no padding; a short last row is padded with the pad id (attention 0, label -100).
/// </summary>
public sealed class CausalLmObjective : ITrainingObjective
{
    private readonly int _eosId;
    private readonly int _padId;
    private readonly int _vocabSize;

    /// <param name="eosId">Separator between documents (GPT-2's &lt;|endoftext|&gt;).</param>
    /// <param name="vocabSize">Vocabulary size, to refuse ids the model has no embedding for.</param>
    /// <param name="padId">Filler of short rows (GPT-2 has none, so EOS by default); never a target.</param>
    public CausalLmObjective(int eosId, int vocabSize, int? padId = null)
    {
        ObjectiveChecks.VocabSize(vocabSize);
        ObjectiveChecks.TokenId(eosId, vocabSize, nameof(eosId));
        _padId = padId ?? eosId;
        ObjectiveChecks.TokenId(_padId, vocabSize, nameof(padId));
        _eosId = eosId;
        _vocabSize = vocabSize;
    }

    public string Name => "clm";

    public int DocumentSeparator => _eosId;

    public int SegmentLength(int sequenceLength)
    {
        ObjectiveChecks.SequenceLength(Name, sequenceLength, 2);
        return sequenceLength;
    }

    public TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng)
    {
        ObjectiveChecks.Segments(Name, segments, SegmentLength(sequenceLength), _vocabSize);
        int batchSize = segments.Count;
        int[] inputIds = new int[batchSize * sequenceLength];
        int[] labels = new int[batchSize * sequenceLength];
        int[]? attentionMask = null;
        for (int b = 0; b < batchSize; b++)
        {
            ReadOnlySpan<int> segment = segments[b].Span;
            Span<int> inputRow = inputIds.AsSpan(b * sequenceLength, sequenceLength);
            Span<int> labelRow = labels.AsSpan(b * sequenceLength, sequenceLength);
            segment.CopyTo(inputRow);
            segment.CopyTo(labelRow);
            if (segment.Length < sequenceLength)
            {
                // A short row: pad; the padding is neither attended to nor predicted.
                inputRow[segment.Length..].Fill(_padId);
                labelRow[segment.Length..].Fill(TrainingBatch.IgnoreIndex);
                attentionMask ??= CreateFullMask(batchSize * sequenceLength);
                attentionMask.AsSpan(b * sequenceLength + segment.Length, sequenceLength - segment.Length).Clear();
            }
        }
        return new TrainingBatch(batchSize, sequenceLength, inputIds, labels)
        {
            AttentionMask = attentionMask,
            ShiftLabels = true,
        };
    }

    private static int[] CreateFullMask(int length)
    {
        int[] mask = new int[length];
        mask.AsSpan().Fill(1);
        return mask;
    }
}
