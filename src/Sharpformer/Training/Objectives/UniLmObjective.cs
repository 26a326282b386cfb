using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>The attention pattern a UniLM row trains with.</summary>
public enum UniLmMode
{
    /// <summary>Every token sees every token (BERT's masked LM).</summary>
    Bidirectional,

    /// <summary>The source sees the source; the target sees the source and its own left context.</summary>
    SequenceToSequence,

    /// <summary>Each token sees itself and the tokens to its left.</summary>
    LeftToRight,

    /// <summary>Each token sees itself and the tokens to its right.</summary>
    RightToLeft,
}

/// <summary>Options of <see cref="UniLmObjective"/>; the defaults are the UniLM paper's (Dong et al., 2019, §2.3).</summary>
public sealed record UniLmOptions
{
    /// <summary>Relative weights of the four modes, drawn per row (the paper: 1/3, 1/3, 1/6, 1/6).</summary>
    public double BidirectionalWeight { get; init; } = 1.0 / 3;

    public double SequenceToSequenceWeight { get; init; } = 1.0 / 3;

    public double LeftToRightWeight { get; init; } = 1.0 / 6;

    public double RightToLeftWeight { get; init; } = 1.0 / 6;

    /// <summary>Share of the non-special tokens of a row to predict (rounded per row, at least one).</summary>
    public double MaskProbability { get; init; } = 0.15;

    /// <summary>Of the predicted tokens, the share replaced by [MASK].</summary>
    public double MaskTokenFraction { get; init; } = 0.8;

    /// <summary>Of the predicted tokens, the share replaced by a random id; the rest stay unchanged.</summary>
    public double RandomTokenFraction { get; init; } = 0.1;

    /// <summary>Chance that a pick masks an n-gram (n uniform in 2 … MaxNgram) rather than one token (the paper: 20%).</summary>
    public double NgramProbability { get; init; } = 0.2;

    public int MaxNgram { get; init; } = 3;
}

/// <summary>
/// UniLM's unified language model pretraining: one Transformer, four self-attention masks. Each row draws a mode;
/// bidirectional and sequence-to-sequence rows are [CLS] S1 [SEP] S2 [SEP] (the segment split at a random point,
/// TokenTypeIds 0 for the source part, 1 for the target part), left-to-right and right-to-left rows are
/// [CLS] S [SEP]. Tokens of either part are masked (15%, 80/10/10, sometimes as bi- or trigrams) and predicted in
/// place (labels [batch, length], no shift). Visibility[b, i, j] = 1 when i may attend to j; padding keys are 0 and
/// padding queries see the row's tokens, so no row of the mask is empty.
/// </summary>
public sealed class UniLmObjective : ITrainingObjective
{
    private readonly int _clsId, _sepId, _maskId, _padId, _vocabSize;
    private readonly HashSet<int> _specialIds;
    private readonly UniLmOptions _options;
    private readonly double[] _modeThresholds;

    /// <param name="specialIds">Further ids never masked (e.g. [UNK]); CLS, SEP, MASK and PAD never are.</param>
    public UniLmObjective(
        int clsId, int sepId, int maskId, int padId, int vocabSize, UniLmOptions? options = null, IEnumerable<int>? specialIds = null)
    {
        ObjectiveChecks.BertSpecialIds(clsId, sepId, maskId, padId, vocabSize);
        _options = options ?? new UniLmOptions();
        double[] weights =
        [
            _options.BidirectionalWeight, _options.SequenceToSequenceWeight, _options.LeftToRightWeight, _options.RightToLeftWeight,
        ];
        if (weights.Any(weight => !(weight >= 0) || double.IsInfinity(weight)) || weights.Sum() <= 0)
        {
            throw new ArgumentException(
                $"UniLM mode weights must be finite, non-negative and not all zero, got {string.Join(", ", weights)}.", nameof(options));
        }
        _modeThresholds = new double[weights.Length];
        double cumulative = 0;
        for (int m = 0; m < weights.Length; m++)
        {
            cumulative += weights[m] / weights.Sum();
            _modeThresholds[m] = cumulative;
        }
        ObjectiveChecks.Probability(_options.MaskProbability, nameof(UniLmOptions.MaskProbability), allowZero: false);
        ObjectiveChecks.ReplacementFractions(
            _options.MaskTokenFraction, _options.RandomTokenFraction, nameof(UniLmOptions.MaskTokenFraction), nameof(UniLmOptions.RandomTokenFraction));
        ObjectiveChecks.Probability(_options.NgramProbability, nameof(UniLmOptions.NgramProbability));
        if (_options.MaxNgram < 2 && _options.NgramProbability > 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), _options.MaxNgram, $"MaxNgram must be at least 2 when NgramProbability > 0, got {_options.MaxNgram}.");
        }
        (_clsId, _sepId, _maskId, _padId, _vocabSize) = (clsId, sepId, maskId, padId, vocabSize);
        _specialIds = [clsId, sepId, maskId, padId, .. specialIds ?? []];
    }

    public string Name => "unilm";

    public int DocumentSeparator => _sepId;

    public int SegmentLength(int sequenceLength)
    {
        ObjectiveChecks.SequenceLength(Name, sequenceLength, 5);
        return sequenceLength - 3;
    }

    public TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng)
    {
        var rows = new BatchRows(this, segments, sequenceLength, _vocabSize, rng);
        int length = rows.Length;
        int[] tokenTypeIds = new int[rows.BatchSize * length];
        byte[] visibility = new byte[rows.BatchSize * length * length];
        bool[] selected = new bool[length];
        for (int b = 0; b < rows.BatchSize; b++)
        {
            UniLmMode mode = DrawMode(rng);
            ReadOnlySpan<int> segment = segments[b].Span;
            Span<int> row = rows.InputRow(b);
            int sourceLength, rowLength;
            if (mode is UniLmMode.Bidirectional or UniLmMode.SequenceToSequence && segment.Length >= 2)
            {
                // Two parts: [CLS] S1 [SEP] S2 [SEP], split at a random point.
                int split = 1 + rng.NextInt(segment.Length - 1);
                sourceLength = split + 2;
                rowLength = segment.Length + 3;
                row[0] = _clsId;
                segment[..split].CopyTo(row[1..]);
                row[split + 1] = _sepId;
                segment[split..].CopyTo(row[sourceLength..]);
                row[rowLength - 1] = _sepId;
                tokenTypeIds.AsSpan(b * length + sourceLength, rowLength - sourceLength).Fill(1);
            }
            else
            {
                rowLength = sourceLength = segment.Length + 2;
                row[0] = _clsId;
                segment.CopyTo(row[1..]);
                row[rowLength - 1] = _sepId;
            }
            rows.Pad(b, rowLength, _padId);
            FillVisibility(mode, rowLength, sourceLength, visibility.AsSpan(b * length * length, length * length), length);
            Span<bool> rowSelected = selected.AsSpan(0, rowLength);
            Select(row[..rowLength], rowSelected, rng);
            RowTransforms.ReplaceSelected(row, rowSelected, _maskId, _vocabSize, _options.MaskTokenFraction, _options.RandomTokenFraction, rng, rows.LabelRow(b));
        }
        return rows.ToBatch() with
        {
            TokenTypeIds = tokenTypeIds,
            Visibility = visibility,
            ShiftLabels = false,
        };
    }

    private UniLmMode DrawMode(Rng rng)
    {
        double draw = rng.NextDouble();
        int mode = 0;
        while (mode < _modeThresholds.Length - 1 && draw >= _modeThresholds[mode])
        {
            mode++;
        }
        return (UniLmMode)mode;
    }

    private static void FillVisibility(UniLmMode mode, int rowLength, int sourceLength, Span<byte> visibility, int length)
    {
        for (int i = 0; i < length; i++)
        {
            Span<byte> query = visibility.Slice(i * length, length);
            for (int j = 0; j < rowLength; j++)
            {
                bool visible = i >= rowLength || mode switch
                {
                    UniLmMode.Bidirectional => true,
                    UniLmMode.LeftToRight => j <= i,
                    UniLmMode.RightToLeft => j >= i,
                    // Source tokens see the whole source; target tokens see the source and their left context.
                    _ => j < sourceLength || j <= i,
                };
                query[j] = visible ? (byte)1 : (byte)0;
            }
        }
    }

    /// <summary>
    /// UniLM's selection: round(p · candidates) non-special tokens (at least one), picked at random positions,
    /// a pick covering an n-gram of following candidates with probability NgramProbability.
    /// </summary>
    private void Select(ReadOnlySpan<int> row, Span<bool> selected, Rng rng)
    {
        selected.Clear();
        var candidates = new List<int>(row.Length);
        for (int t = 0; t < row.Length; t++)
        {
            if (!_specialIds.Contains(row[t]))
            {
                candidates.Add(t);
            }
        }
        if (candidates.Count == 0)
        {
            return;
        }
        int target = Math.Max(1, (int)Math.Round(candidates.Count * _options.MaskProbability));
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(candidates));
        int count = 0;
        foreach (int start in candidates)
        {
            if (count == target)
            {
                break;
            }
            int n = _options.NgramProbability > 0 && rng.NextBernoulli(_options.NgramProbability)
                ? 2 + rng.NextInt(_options.MaxNgram - 1)
                : 1;
            for (int t = start; t < start + n && t < row.Length && count < target && !_specialIds.Contains(row[t]); t++)
            {
                count += selected[t] ? 0 : 1;
                selected[t] = true;
            }
        }
    }
}
