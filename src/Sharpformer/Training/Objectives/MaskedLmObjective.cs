using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>Options of <see cref="MaskedLmObjective"/>; the defaults are BERT's.</summary>
public sealed record MaskedLmOptions
{
    /// <summary>Chance that a non-special token (or whole word) is selected for prediction.</summary>
    public double MaskProbability { get; init; } = 0.15;

    /// <summary>Of the selected tokens, the share replaced by [MASK].</summary>
    public double MaskTokenFraction { get; init; } = 0.8;

    /// <summary>Of the selected tokens, the share replaced by a uniformly random id; the rest stay unchanged.</summary>
    public double RandomTokenFraction { get; init; } = 0.1;

    /// <summary>
    /// Whole-word masking when set: true for a token that continues the previous word (WordPiece "##…"); a word
    /// is selected or not as a whole, then each of its tokens gets the 80/10/10 replacement.
    /// </summary>
    public Func<int, bool>? IsContinuation { get; init; }

    /// <summary>Split each segment at a random point into a pair: [CLS] A [SEP] B [SEP], token types 0 then 1.</summary>
    public bool SentencePairs { get; init; }
}

/// <summary>
/// Masked language modelling (BERT, HF DataCollatorForLanguageModeling): [CLS] segment [SEP], each non-special
/// token selected with probability 0.15, a selected token becomes [MASK] (80%), a random id (10%) or stays (10%);
/// labels hold the original id at selected positions and -100 elsewhere (no shift).
/// </summary>
public sealed class MaskedLmObjective : ITrainingObjective
{
    private readonly int _clsId, _sepId, _maskId, _padId, _vocabSize;
    private readonly MaskedLmOptions _options;
    private readonly HashSet<int> _specialIds;

    /// <param name="specialIds">Further ids never selected (HF's all_special_ids, e.g. [UNK]); CLS, SEP, MASK and PAD always are.</param>
    public MaskedLmObjective(
        int clsId, int sepId, int maskId, int padId, int vocabSize, MaskedLmOptions? options = null,
        IEnumerable<int>? specialIds = null)
    {
        ObjectiveChecks.BertSpecialIds(clsId, sepId, maskId, padId, vocabSize);
        _options = options ?? new MaskedLmOptions();
        ObjectiveChecks.Probability(_options.MaskProbability, nameof(MaskedLmOptions.MaskProbability), allowZero: false);
        ObjectiveChecks.ReplacementFractions(
            _options.MaskTokenFraction, _options.RandomTokenFraction,
            nameof(MaskedLmOptions.MaskTokenFraction), nameof(MaskedLmOptions.RandomTokenFraction));
        (_clsId, _sepId, _maskId, _padId, _vocabSize) = (clsId, sepId, maskId, padId, vocabSize);
        _specialIds = [clsId, sepId, maskId, padId, .. specialIds ?? []];
    }

    public string Name => "mlm";

    public int DocumentSeparator => _sepId;

    private int SpecialCount => _options.SentencePairs ? 3 : 2;

    public int SegmentLength(int sequenceLength)
    {
        ObjectiveChecks.SequenceLength(Name, sequenceLength, SpecialCount + (_options.SentencePairs ? 2 : 1));
        return sequenceLength - SpecialCount;
    }

    public TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng)
    {
        var rows = new BatchRows(this, segments, sequenceLength, _vocabSize, rng);
        int length = rows.Length;
        int[] tokenTypeIds = new int[rows.BatchSize * length];
        bool[] selected = new bool[length];
        for (int b = 0; b < rows.BatchSize; b++)
        {
            Span<int> row = rows.InputRow(b);
            int rowLength = BuildRow(segments[b].Span, row, tokenTypeIds.AsSpan(b * length, length), rng);
            rows.Pad(b, rowLength, _padId);
            Span<bool> rowSelected = selected.AsSpan(0, rowLength);
            Select(row[..rowLength], rowSelected, rng);
            RowTransforms.ReplaceSelected(row, rowSelected, _maskId, _vocabSize, _options.MaskTokenFraction, _options.RandomTokenFraction, rng, rows.LabelRow(b));
        }
        return rows.ToBatch() with
        {
            TokenTypeIds = _options.SentencePairs ? tokenTypeIds : null,
            ShiftLabels = false,
        };
    }

    /// <summary>[CLS] A [SEP] (B [SEP]); returns the row's length before padding.</summary>
    private int BuildRow(ReadOnlySpan<int> segment, Span<int> row, Span<int> tokenTypes, Rng rng)
    {
        row[0] = _clsId;
        if (!_options.SentencePairs || segment.Length < 2)
        {
            segment.CopyTo(row[1..]);
            row[segment.Length + 1] = _sepId;
            return segment.Length + 2;
        }
        int split = 1 + rng.NextInt(segment.Length - 1);
        segment[..split].CopyTo(row[1..]);
        row[split + 1] = _sepId;
        segment[split..].CopyTo(row[(split + 2)..]);
        int rowLength = segment.Length + 3;
        row[rowLength - 1] = _sepId;
        tokenTypes[(split + 2)..rowLength].Fill(1);
        return rowLength;
    }

    /// <summary>Bernoulli selection of non-special tokens, or of whole words when IsContinuation is set.</summary>
    private void Select(ReadOnlySpan<int> row, Span<bool> selected, Rng rng)
    {
        Func<int, bool>? isContinuation = _options.IsContinuation;
        bool wordSelected = false;
        for (int t = 0; t < row.Length; t++)
        {
            if (_specialIds.Contains(row[t]))
            {
                selected[t] = false;
                continue;
            }
            bool startsWord = isContinuation is null || t == 0 || _specialIds.Contains(row[t - 1]) || !isContinuation(row[t]);
            if (startsWord)
            {
                wordSelected = rng.NextBernoulli(_options.MaskProbability);
            }
            selected[t] = wordSelected;
        }
    }
}
