using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>
/// The [batch, length] input ids, labels and attention mask that an objective's CreateBatch fills row by row: the
/// row's tokens first, then <see cref="Pad"/> fills the rest with the pad id and marks only the tokens in the mask.
/// The mask reaches the batch only when some row is padded (a batch without padding needs none, as in HF).
/// </summary>
internal sealed class BatchRows
{
    private readonly int[] _attentionMask;
    private bool _anyPadding;

    /// <summary>Checks CreateBatch's arguments for <paramref name="objective"/> (segments, their lengths and ids) and allocates the rows.</summary>
    public BatchRows(ITrainingObjective objective, IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, int vocabSize, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ObjectiveChecks.Segments(objective.Name, segments, objective.SegmentLength(sequenceLength), vocabSize);
        BatchSize = segments.Count;
        Length = sequenceLength;
        InputIds = new int[BatchSize * Length];
        Labels = new int[BatchSize * Length];
        _attentionMask = new int[BatchSize * Length];
    }

    public int BatchSize { get; }

    public int Length { get; }

    /// <summary>[batch, length].</summary>
    public int[] InputIds { get; }

    /// <summary>[batch, length], written by the objective.</summary>
    public int[] Labels { get; }

    /// <summary>1 for tokens, 0 for padding; null when no row is padded.</summary>
    public int[]? AttentionMask => _anyPadding ? _attentionMask : null;

    /// <summary>The batch of these rows (labels <see cref="Labels"/>); the objective adds its own fields with <c>with</c>.</summary>
    public TrainingBatch ToBatch() => new(BatchSize, Length, InputIds, Labels) { AttentionMask = AttentionMask };

    public Span<int> InputRow(int row) => InputIds.AsSpan(row * Length, Length);

    public Span<int> LabelRow(int row) => Labels.AsSpan(row * Length, Length);

    /// <summary>Row <paramref name="row"/> holds <paramref name="tokenCount"/> tokens: the rest become <paramref name="padId"/>, outside the mask.</summary>
    public void Pad(int row, int tokenCount, int padId)
    {
        InputRow(row)[tokenCount..].Fill(padId);
        _attentionMask.AsSpan(row * Length, tokenCount).Fill(1);
        _anyPadding |= tokenCount < Length;
    }
}
