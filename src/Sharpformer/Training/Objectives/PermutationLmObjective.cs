using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>Options of <see cref="PermutationLmObjective"/>; the defaults are HF's for XLNet.</summary>
public sealed record PermutationLmOptions
{
    /// <summary>Share of the tokens to predict: each span of length s is drawn inside a context of s / p tokens.</summary>
    public double PlmProbability { get; init; } = 1.0 / 6;

    /// <summary>Longest span of consecutive predicted tokens (lengths uniform in 1 … this).</summary>
    public int MaxSpanLength { get; init; } = 5;

    /// <summary>
    /// False (HF): target_mapping is the identity and labels are [batch, length] with -100 off target. True: only
    /// the predicted positions, PredictCount = the batch's most, shorter rows padded with -100 and zero mappings.
    /// </summary>
    public bool CompactTargets { get; init; }
}

/// <summary>
/// XLNet permutation language modelling, as HF DataCollatorForPermutationLanguageModeling: spans chosen with
/// probability 1/6 are replaced by &lt;mask&gt; and predicted; a random factorisation order decides what each query
/// may see: PermutationMask[b, i, j] = 1 when j is predicted and does not come before i in the order (so a
/// predicted token never sees itself), and the unpredicted context is visible to all. TargetMapping picks the
/// positions of the query stream; Labels are [batch, PredictCount].
/// </summary>
public sealed class PermutationLmObjective : ITrainingObjective
{
    private readonly int _maskId, _padId, _separatorId, _vocabSize;
    private readonly HashSet<int> _specialIds;
    private readonly PermutationLmOptions _options;

    /// <param name="separatorId">Token between documents (XLNet's &lt;sep&gt;); never predicted.</param>
    /// <param name="specialIds">Further ids never predicted (XLNet's &lt;cls&gt;, …); mask, pad and the separator always are.</param>
    public PermutationLmObjective(
        int maskId, int padId, int separatorId, int vocabSize, PermutationLmOptions? options = null, IEnumerable<int>? specialIds = null)
    {
        ObjectiveChecks.VocabSize(vocabSize);
        ObjectiveChecks.TokenId(maskId, vocabSize, nameof(maskId));
        ObjectiveChecks.TokenId(padId, vocabSize, nameof(padId));
        ObjectiveChecks.TokenId(separatorId, vocabSize, nameof(separatorId));
        _options = options ?? new PermutationLmOptions();
        ObjectiveChecks.Probability(_options.PlmProbability, nameof(PermutationLmOptions.PlmProbability), allowZero: false);
        if (_options.MaxSpanLength < 1)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), _options.MaxSpanLength, $"MaxSpanLength must be at least 1, got {_options.MaxSpanLength}.");
        }
        (_maskId, _padId, _separatorId, _vocabSize) = (maskId, padId, separatorId, vocabSize);
        _specialIds = [maskId, padId, separatorId, .. specialIds ?? []];
    }

    public string Name => "plm";

    public int DocumentSeparator => _separatorId;

    /// <summary>The id that fills rows shorter than the sequence (XLNet's config pad_token_id).</summary>
    public int PadId => _padId;

    public int SegmentLength(int sequenceLength)
    {
        ObjectiveChecks.SequenceLength(Name, sequenceLength, 2);
        if (sequenceLength % 2 != 0)
        {
            // HF's perm_mask pairs position i with i + length/2.
            throw new ArgumentException($"plm needs an even sequenceLength, got {sequenceLength}.", nameof(sequenceLength));
        }
        return sequenceLength;
    }

    public TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng)
    {
        var rows = new BatchRows(this, segments, sequenceLength, _vocabSize, rng);
        int batchSize = rows.BatchSize;
        int length = rows.Length;
        float[] permutationMask = new float[batchSize * length * length];
        bool[] masked = new bool[batchSize * length];
        for (int b = 0; b < batchSize; b++)
        {
            ReadOnlySpan<int> segment = segments[b].Span;
            Span<int> row = rows.InputRow(b);
            segment.CopyTo(row);
            rows.Pad(b, segment.Length, _padId);
            Span<bool> rowMasked = masked.AsSpan(b * length, length);
            ChooseSpans(rowMasked, rng);
            Span<int> labels = rows.LabelRow(b);
            for (int t = 0; t < length; t++)
            {
                // Special tokens and padding are never predicted.
                rowMasked[t] &= !_specialIds.Contains(row[t]);
                labels[t] = rowMasked[t] ? row[t] : TrainingBatch.IgnoreIndex;
                row[t] = rowMasked[t] ? _maskId : row[t];
            }
            FillPermutationMask(segments[b].Span, rowMasked, rng, permutationMask.AsSpan(b * length * length, length * length));
        }
        (int predictCount, int[] labelsOut, float[] targetMapping) = _options.CompactTargets
            ? CompactTargets(rows.Labels, masked, batchSize, length)
            : (length, rows.Labels, IdentityMappings(batchSize, length));
        return rows.ToBatch() with
        {
            Labels = labelsOut,
            PermutationMask = permutationMask,
            TargetMapping = targetMapping,
            PredictCount = predictCount,
            ShiftLabels = false,
        };
    }

    /// <summary>HF's span loop: a span of 1 … MaxSpanLength tokens at a random place in each context of span / p tokens.</summary>
    private void ChooseSpans(Span<bool> masked, Rng rng)
    {
        int length = masked.Length;
        for (int position = 0; position < length;)
        {
            int spanLength = 1 + rng.NextInt(_options.MaxSpanLength);
            int contextLength = (int)(spanLength / _options.PlmProbability);
            int start = position + rng.NextInt(contextLength - spanLength + 1);
            for (int t = start; t < Math.Min(start + spanLength, length); t++)
            {
                masked[t] = true;
            }
            position += contextLength;
        }
    }

    /// <summary>
    /// HF's factorisation order: a random permutation of the first half, the second half following in the same
    /// order; unpredicted real tokens get rank -1 (visible to everyone), and query i cannot see predicted j
    /// when rank(i) ≤ rank(j).
    /// </summary>
    private void FillPermutationMask(ReadOnlySpan<int> segment, ReadOnlySpan<bool> masked, Rng rng, Span<float> permutationMask)
    {
        int length = masked.Length;
        int half = length / 2;
        int[] halfOrder = rng.Permutation(half);
        int[] rank = new int[length];
        for (int t = 0; t < length; t++)
        {
            // XLNet quirk kept from HF: positions t and t + length/2 share their place in the two halves' orders.
            rank[t] = t < half ? halfOrder[t] : halfOrder[t - half] + half;
            bool functional = t < segment.Length && !_specialIds.Contains(segment[t]);
            rank[t] = !masked[t] && functional ? -1 : rank[t];
        }
        for (int i = 0; i < length; i++)
        {
            for (int j = 0; j < length; j++)
            {
                permutationMask[i * length + j] = masked[j] && rank[i] <= rank[j] ? 1f : 0f;
            }
        }
    }

    private static float[] IdentityMappings(int batchSize, int length)
    {
        float[] mapping = new float[batchSize * length * length];
        for (int b = 0; b < batchSize; b++)
        {
            for (int t = 0; t < length; t++)
            {
                mapping[(b * length + t) * length + t] = 1f;
            }
        }
        return mapping;
    }

    private static (int PredictCount, int[] Labels, float[] TargetMapping) CompactTargets(int[] fullLabels, bool[] masked, int batchSize, int length)
    {
        int predictCount = 1;
        for (int b = 0; b < batchSize; b++)
        {
            predictCount = Math.Max(predictCount, masked.AsSpan(b * length, length).Count(true));
        }
        int[] labels = new int[batchSize * predictCount];
        labels.AsSpan().Fill(TrainingBatch.IgnoreIndex);
        float[] mapping = new float[batchSize * predictCount * length];
        for (int b = 0; b < batchSize; b++)
        {
            int p = 0;
            for (int t = 0; t < length; t++)
            {
                if (masked[b * length + t])
                {
                    labels[b * predictCount + p] = fullLabels[b * length + t];
                    mapping[(b * predictCount + p) * length + t] = 1f;
                    p++;
                }
            }
        }
        return (predictCount, labels, mapping);
    }
}
