using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>
/// Options of <see cref="DenoisingObjective"/>, each noise switched on by a non-zero value. The defaults are the
/// BART paper's best mix: text infilling of 30% of the tokens with Poisson(3) spans plus sentence permutation.
/// </summary>
public sealed record DenoisingOptions
{
    /// <summary>Token masking: chance each token becomes &lt;mask&gt;.</summary>
    public double TokenMaskingProbability { get; init; }

    /// <summary>Token deletion: chance each token is dropped.</summary>
    public double TokenDeletionProbability { get; init; }

    /// <summary>Text infilling: share of the tokens hidden in spans, each span replaced by one &lt;mask&gt;.</summary>
    public double TextInfillingProbability { get; init; } = 0.3;

    /// <summary>Mean span length of text infilling (span lengths ~ Poisson(λ); 0-length spans insert a &lt;mask&gt;).</summary>
    public double PoissonLambda { get; init; } = 3.0;

    /// <summary>Sentence permutation: share of the sentences (split after full stops) shuffled among themselves.</summary>
    public double SentencePermutationProbability { get; init; } = 1.0;

    /// <summary>Document rotation: chance a row is rotated to start at a uniformly chosen token.</summary>
    public double DocumentRotationProbability { get; init; }

    /// <summary>Share of the inserted &lt;mask&gt; tokens replaced by a random id instead (fairseq's mask_random).</summary>
    public double RandomTokenFraction { get; init; }
}

/// <summary>
/// BART's denoising autoencoder (the paper's §2.2 and fairseq's DenoisingDataset): the input is
/// &lt;s&gt; noised segment &lt;/s&gt;, the labels are &lt;s&gt; original segment &lt;/s&gt; ([batch, TargetLength]). Noises apply in
/// the order sentence permutation, token masking, token deletion, text infilling, document rotation, each on the
/// previous one's output; the input never grows past the segment's own length. Padding uses the pad id (labels
/// -100). DecoderInputIds are filled by HF's shift_tokens_right, starting with the decoder start token (BART: &lt;/s&gt;).
/// </summary>
public sealed class DenoisingObjective : ITrainingObjective
{
    private readonly int _bosId, _eosId, _padId, _maskId, _vocabSize, _decoderStartId;
    private readonly HashSet<int> _fullStopIds;
    private readonly DenoisingOptions _options;

    /// <param name="fullStopIds">Tokens that end a sentence ("." and the like); needed for sentence permutation.</param>
    /// <param name="decoderStartId">First decoder input; BART's decoder_start_token_id is &lt;/s&gt; (the default).</param>
    public DenoisingObjective(
        int bosId, int eosId, int padId, int maskId, int vocabSize, IEnumerable<int>? fullStopIds = null,
        DenoisingOptions? options = null, int? decoderStartId = null)
    {
        ObjectiveChecks.VocabSize(vocabSize);
        ObjectiveChecks.TokenId(bosId, vocabSize, nameof(bosId));
        ObjectiveChecks.TokenId(eosId, vocabSize, nameof(eosId));
        ObjectiveChecks.TokenId(padId, vocabSize, nameof(padId));
        ObjectiveChecks.TokenId(maskId, vocabSize, nameof(maskId));
        _decoderStartId = decoderStartId ?? eosId;
        ObjectiveChecks.TokenId(_decoderStartId, vocabSize, nameof(decoderStartId));
        _fullStopIds = [.. fullStopIds ?? []];
        foreach (int id in _fullStopIds)
        {
            ObjectiveChecks.TokenId(id, vocabSize, nameof(fullStopIds));
        }
        _options = options ?? new DenoisingOptions();
        ObjectiveChecks.Probability(_options.TokenMaskingProbability, nameof(DenoisingOptions.TokenMaskingProbability));
        ObjectiveChecks.Probability(_options.TokenDeletionProbability, nameof(DenoisingOptions.TokenDeletionProbability), allowOne: false);
        ObjectiveChecks.Probability(_options.TextInfillingProbability, nameof(DenoisingOptions.TextInfillingProbability));
        ObjectiveChecks.Probability(_options.SentencePermutationProbability, nameof(DenoisingOptions.SentencePermutationProbability));
        ObjectiveChecks.Probability(_options.DocumentRotationProbability, nameof(DenoisingOptions.DocumentRotationProbability));
        ObjectiveChecks.Probability(_options.RandomTokenFraction, nameof(DenoisingOptions.RandomTokenFraction));
        if (!(_options.PoissonLambda > 0 && _options.PoissonLambda <= 100))
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), _options.PoissonLambda, $"PoissonLambda must be in (0, 100], got {_options.PoissonLambda}.");
        }
        if (_options.SentencePermutationProbability > 0 && _fullStopIds.Count == 0)
        {
            throw new ArgumentException("SentencePermutationProbability > 0 needs fullStopIds to split sentences.", nameof(fullStopIds));
        }
        if (_options is { TokenMaskingProbability: 0, TokenDeletionProbability: 0, TextInfillingProbability: 0,
            SentencePermutationProbability: 0, DocumentRotationProbability: 0 })
        {
            throw new ArgumentException("denoise: every noise is switched off; the input would equal the labels.", nameof(options));
        }
        (_bosId, _eosId, _padId, _maskId, _vocabSize) = (bosId, eosId, padId, maskId, vocabSize);
    }

    public string Name => "denoise";

    public int DocumentSeparator => _eosId;

    public int SegmentLength(int sequenceLength)
    {
        ObjectiveChecks.SequenceLength(Name, sequenceLength, 3);
        return sequenceLength - 2;
    }

    public TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng)
    {
        var rows = new BatchRows(this, segments, sequenceLength, _vocabSize, rng);
        int length = rows.Length;
        int[] decoderInputIds = new int[rows.BatchSize * length];
        for (int b = 0; b < rows.BatchSize; b++)
        {
            ReadOnlySpan<int> segment = segments[b].Span;
            List<int> noised = Noise(segment, rng);
            Span<int> inputRow = rows.InputRow(b);
            inputRow[0] = _bosId;
            noised.CopyTo(inputRow[1..]);
            inputRow[noised.Count + 1] = _eosId;
            rows.Pad(b, noised.Count + 2, _padId);

            Span<int> labelRow = rows.LabelRow(b);
            labelRow[0] = _bosId;
            segment.CopyTo(labelRow[1..]);
            labelRow[segment.Length + 1] = _eosId;
            labelRow[(segment.Length + 2)..].Fill(TrainingBatch.IgnoreIndex);
            RowTransforms.ShiftTokensRight(labelRow, _decoderStartId, _padId, decoderInputIds.AsSpan(b * length, length));
        }
        return rows.ToBatch() with
        {
            TargetLength = length,
            DecoderInputIds = decoderInputIds,
            ShiftLabels = false,
        };
    }

    private List<int> Noise(ReadOnlySpan<int> segment, Rng rng)
    {
        List<int> tokens = [.. segment];
        if (_options.SentencePermutationProbability > 0)
        {
            tokens = PermuteSentences(tokens, rng);
        }
        if (_options.TokenMaskingProbability > 0)
        {
            for (int t = 0; t < tokens.Count; t++)
            {
                tokens[t] = rng.NextBernoulli(_options.TokenMaskingProbability) ? MaskOrRandom(rng) : tokens[t];
            }
        }
        if (_options.TokenDeletionProbability > 0)
        {
            tokens = [.. tokens.Where(_ => !rng.NextBernoulli(_options.TokenDeletionProbability))];
        }
        if (_options.TextInfillingProbability > 0 && tokens.Count > 0)
        {
            tokens = Infill(tokens, rng);
        }
        if (_options.DocumentRotationProbability > 0 && tokens.Count > 1 && rng.NextBernoulli(_options.DocumentRotationProbability))
        {
            // Rotate so that a uniformly chosen token other than the first starts the document.
            int offset = 1 + rng.NextInt(tokens.Count - 1);
            tokens = [.. tokens.Skip(offset), .. tokens.Take(offset)];
        }
        return tokens;
    }

    private int MaskOrRandom(Rng rng) =>
        _options.RandomTokenFraction > 0 && rng.NextBernoulli(_options.RandomTokenFraction) ? rng.NextInt(_vocabSize) : _maskId;

    /// <summary>fairseq permute_sentences: ceil(p · count) randomly chosen sentences trade places among themselves.</summary>
    private List<int> PermuteSentences(List<int> tokens, Rng rng)
    {
        // A sentence ends after a full stop that is not followed by another one; the tail is the last sentence.
        var sentences = new List<(int Start, int Length)>();
        int start = 0;
        for (int t = 0; t < tokens.Count; t++)
        {
            bool ends = _fullStopIds.Contains(tokens[t]) && (t + 1 == tokens.Count || !_fullStopIds.Contains(tokens[t + 1]));
            if (ends || t + 1 == tokens.Count)
            {
                sentences.Add((start, t + 1 - start));
                start = t + 1;
            }
        }
        int permuteCount = (int)Math.Ceiling(sentences.Count * _options.SentencePermutationProbability);
        if (permuteCount < 2)
        {
            return tokens;
        }
        int[] chosen = rng.Permutation(sentences.Count)[..permuteCount];
        int[] order = [.. Enumerable.Range(0, sentences.Count)];
        int[] moved = [.. chosen];
        rng.Shuffle<int>(moved);
        for (int i = 0; i < permuteCount; i++)
        {
            order[chosen[i]] = moved[i];
        }
        var result = new List<int>(tokens.Count);
        foreach (int sentence in order)
        {
            result.AddRange(tokens.GetRange(sentences[sentence].Start, sentences[sentence].Length));
        }
        return result;
    }

    /// <summary>
    /// Text infilling: span lengths ~ Poisson(λ) until ceil(p · n) tokens are covered (the last span trimmed), each
    /// span replaced by one &lt;mask&gt;; 0-length spans insert a &lt;mask&gt;. Spans sit in distinct gaps between kept
    /// tokens, so two masks never touch and each stands for exactly one span.
    /// </summary>
    private List<int> Infill(List<int> tokens, Rng rng)
    {
        int count = tokens.Count;
        int hidden = Math.Min(count, (int)Math.Ceiling(count * _options.TextInfillingProbability));
        var spanLengths = new List<int>();
        for (int covered = 0; covered < hidden;)
        {
            int spanLength = Math.Min(rng.NextPoisson(_options.PoissonLambda), hidden - covered);
            spanLengths.Add(spanLength);
            covered += spanLength;
        }
        int gaps = count - hidden + 1;
        int insertions = spanLengths.Count(spanLength => spanLength == 0);
        int nonEmpty = spanLengths.Count - insertions;
        // Keep the input no longer than the segment (insertions ≤ tokens saved) and one span per gap.
        int keptInsertions = Math.Min(insertions, Math.Max(0, Math.Min(hidden - nonEmpty, gaps - nonEmpty)));
        List<int> spans = [.. spanLengths.Where(spanLength => spanLength > 0)];
        while (spans.Count > gaps)
        {
            spans[^2] += spans[^1];
            spans.RemoveAt(spans.Count - 1);
        }
        spans.AddRange(Enumerable.Repeat(0, keptInsertions));
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(spans));

        // Distinct gaps for the spans, in order: gap g sits before the g-th kept token (gap count-hidden is the end).
        int[] gapOrder = rng.Permutation(gaps)[..spans.Count];
        int[] spanAtGap = new int[gaps];
        spanAtGap.AsSpan().Fill(-1);
        for (int s = 0; s < spans.Count; s++)
        {
            spanAtGap[gapOrder[s]] = spans[s];
        }
        var result = new List<int>(count);
        int position = 0;
        for (int gap = 0; gap < gaps; gap++)
        {
            if (spanAtGap[gap] >= 0)
            {
                result.Add(MaskOrRandom(rng));
                position += spanAtGap[gap];
            }
            if (gap < gaps - 1)
            {
                result.Add(tokens[position++]);
            }
        }
        return result;
    }
}
