using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// A pretraining objective as a pure data transform: raw token segments in, a <see cref="TrainingBatch"/> out.
/// The trainer cuts the corpus (documents joined by the objective's separator) into consecutive segments of
/// <see cref="SegmentLength"/> tokens, shuffles them by seed, and hands <c>batchSize</c> of them to
/// <see cref="CreateBatch"/>, which adds special tokens, noise, padding, labels and masks. Same segments and
/// same <see cref="Rng"/> state → the same batch.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>clm, mlm, denoise, span, plm or unilm (the CLI's --objective).</summary>
    string Name { get; }

    /// <summary>Token placed between documents when the corpus is joined into one stream (EOS, SEP, …), or -1 for none.</summary>
    int DocumentSeparator { get; }

    /// <summary>Raw corpus tokens per row so that the model's input is at most <paramref name="sequenceLength"/> tokens.</summary>
    int SegmentLength(int sequenceLength);

    TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng);
}
