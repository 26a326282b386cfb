using Sharpformer.Tensors;

namespace Sharpformer.Training.Objectives;

/// <summary>Options of <see cref="SpanCorruptionObjective"/>; the defaults are T5's.</summary>
public sealed record SpanCorruptionOptions
{
    /// <summary>Share of the raw tokens that are noise (predicted).</summary>
    public double NoiseDensity { get; init; } = 0.15;

    /// <summary>Mean length of a noise span.</summary>
    public double MeanNoiseSpanLength { get; init; } = 3.0;
}

/// <summary>
/// T5 span corruption, as HF's run_t5_mlm_flax.py (random_spans_noise_mask, compute_input_and_target_lengths):
/// a raw segment of <see cref="SegmentLength"/> tokens loses 15% of its tokens in spans of mean length 3; each
/// span becomes one sentinel in the input (&lt;extra_id_0&gt;, &lt;extra_id_1&gt;, …), the input ends with &lt;/s&gt; and
/// is exactly sequenceLength long; labels are "sentinel span sentinel span … &lt;/s&gt;" ([batch, TargetLength]).
/// DecoderInputIds are filled: labels shifted right after the decoder start token (HF shift_tokens_right).
/// </summary>
public sealed class SpanCorruptionObjective : ITrainingObjective
{
    private readonly int _eosId, _padId, _vocabSize, _decoderStartId;
    private readonly int[] _sentinelIds;
    private readonly SpanCorruptionOptions _options;

    /// <param name="sentinelIds">&lt;extra_id_0&gt;, &lt;extra_id_1&gt;, … in order (T5: descending from len(tokenizer)-1, see <see cref="DescendingSentinels"/>).</param>
    /// <param name="decoderStartId">First decoder input (T5: the pad id, the default).</param>
    public SpanCorruptionObjective(
        int eosId, int padId, int vocabSize, IReadOnlyList<int> sentinelIds, SpanCorruptionOptions? options = null,
        int? decoderStartId = null)
    {
        ArgumentNullException.ThrowIfNull(sentinelIds);
        ObjectiveChecks.VocabSize(vocabSize);
        ObjectiveChecks.TokenId(eosId, vocabSize, nameof(eosId));
        ObjectiveChecks.TokenId(padId, vocabSize, nameof(padId));
        _decoderStartId = decoderStartId ?? padId;
        ObjectiveChecks.TokenId(_decoderStartId, vocabSize, nameof(decoderStartId));
        if (sentinelIds.Count == 0 || sentinelIds.Distinct().Count() != sentinelIds.Count)
        {
            throw new ArgumentException("sentinelIds must be a non-empty list of distinct ids.", nameof(sentinelIds));
        }
        foreach (int id in sentinelIds)
        {
            ObjectiveChecks.TokenId(id, vocabSize, nameof(sentinelIds));
        }
        _options = options ?? new SpanCorruptionOptions();
        ObjectiveChecks.Probability(_options.NoiseDensity, nameof(SpanCorruptionOptions.NoiseDensity), allowZero: false, allowOne: false);
        if (!(_options.MeanNoiseSpanLength >= 1))
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), _options.MeanNoiseSpanLength, $"MeanNoiseSpanLength must be at least 1, got {_options.MeanNoiseSpanLength}.");
        }
        (_eosId, _padId, _vocabSize, _sentinelIds) = (eosId, padId, vocabSize, [.. sentinelIds]);
    }

    /// <summary>T5's sentinels: &lt;extra_id_i&gt; = <paramref name="firstSentinelId"/> - i (firstSentinelId = len(tokenizer) - 1).</summary>
    public static int[] DescendingSentinels(int firstSentinelId, int count = 100)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(firstSentinelId, count - 1);
        return [.. Enumerable.Range(0, count).Select(i => firstSentinelId - i)];
    }

    public string Name => "span";

    public int DocumentSeparator => _eosId;

    public int SegmentLength(int sequenceLength) => Lengths(sequenceLength).TokensLength;

    /// <summary>Raw tokens per row and label length for an input of <paramref name="sequenceLength"/> (HF compute_input_and_target_lengths).</summary>
    public (int TokensLength, int TargetLength) Lengths(int sequenceLength)
    {
        ObjectiveChecks.SequenceLength(Name, sequenceLength, 3);
        int tokensLength = sequenceLength;
        while (CorruptedLengths(tokensLength + 1).Inputs <= sequenceLength)
        {
            tokensLength++;
        }
        int targetLength = CorruptedLengths(tokensLength).Targets;
        // HF's hack: at density 0.5, trim one raw token so the targets are no longer than the inputs.
        if (_options.NoiseDensity == 0.5 && targetLength > sequenceLength)
        {
            tokensLength--;
            targetLength--;
        }
        int spans = NoiseSpanCount(tokensLength);
        if (spans > _sentinelIds.Length)
        {
            throw new ArgumentOutOfRangeException(
                nameof(sequenceLength), sequenceLength,
                $"span: a sequenceLength of {sequenceLength} needs {spans} sentinels but only {_sentinelIds.Length} were given.");
        }
        return (tokensLength, targetLength);
    }

    private (int Inputs, int Targets) CorruptedLengths(int tokensLength)
    {
        int noiseTokens = (int)Math.Round(tokensLength * _options.NoiseDensity);
        int noiseSpans = (int)Math.Round(noiseTokens / _options.MeanNoiseSpanLength);
        // Inputs: the kept tokens, a sentinel per span, </s>; targets: the noise, a sentinel per span, </s>.
        return (tokensLength - noiseTokens + noiseSpans + 1, noiseTokens + noiseSpans + 1);
    }

    private int NoiseSpanCount(int length)
    {
        int noiseTokens = Math.Clamp((int)Math.Round(length * _options.NoiseDensity), 1, length - 1);
        return Math.Max((int)Math.Round(Math.Min(noiseTokens, length - noiseTokens) / _options.MeanNoiseSpanLength), 1);
    }

    public TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        (int tokensLength, int targetLength) = Lengths(sequenceLength);
        ObjectiveChecks.Segments(Name, segments, tokensLength, _vocabSize);
        int batchSize = segments.Count;
        int[] inputIds = new int[batchSize * sequenceLength];
        int[] attentionMask = new int[batchSize * sequenceLength];
        int[] labels = new int[batchSize * targetLength];
        int[] decoderInputIds = new int[batchSize * targetLength];
        bool anyPadding = false;
        bool[] noise = new bool[tokensLength];
        for (int b = 0; b < batchSize; b++)
        {
            ReadOnlySpan<int> segment = segments[b].Span;
            Span<bool> rowNoise = noise.AsSpan(0, segment.Length);
            RandomSpansNoiseMask(rowNoise, rng);
            Span<int> inputRow = inputIds.AsSpan(b * sequenceLength, sequenceLength);
            Span<int> labelRow = labels.AsSpan(b * targetLength, targetLength);
            int inputCount = Filter(segment, rowNoise, keepNoise: false, inputRow);
            int labelCount = Filter(segment, rowNoise, keepNoise: true, labelRow);
            inputRow[inputCount..].Fill(_padId);
            labelRow[labelCount..].Fill(TrainingBatch.IgnoreIndex);
            attentionMask.AsSpan(b * sequenceLength, inputCount).Fill(1);
            anyPadding |= inputCount < sequenceLength;
            RowTransforms.ShiftTokensRight(labelRow, _decoderStartId, _padId, decoderInputIds.AsSpan(b * targetLength, targetLength));
        }
        return new TrainingBatch(batchSize, sequenceLength, inputIds, labels)
        {
            AttentionMask = anyPadding ? attentionMask : null,
            TargetLength = targetLength,
            DecoderInputIds = decoderInputIds,
            ShiftLabels = false,
        };
    }

    /// <summary>
    /// HF random_spans_noise_mask: round(length·density) noise tokens in round(·/mean) spans, the noise and the
    /// kept tokens each cut into that many non-empty runs at random, interleaved kept-first.
    /// </summary>
    private void RandomSpansNoiseMask(Span<bool> noise, Rng rng)
    {
        int length = noise.Length;
        noise.Clear();
        if (length < 2)
        {
            return; // Nothing can be both kept and hidden; HF would fail here.
        }
        int noiseTokens = Math.Clamp((int)Math.Round(length * _options.NoiseDensity), 1, length - 1);
        int spans = NoiseSpanCount(length);
        int[] noiseLengths = RandomSegmentation(noiseTokens, spans, rng);
        int[] keptLengths = RandomSegmentation(length - noiseTokens, spans, rng);
        int position = 0;
        for (int s = 0; s < spans; s++)
        {
            position += keptLengths[s];
            noise.Slice(position, noiseLengths[s]).Fill(true);
            position += noiseLengths[s];
        }
    }

    /// <summary>Partitions <paramref name="itemCount"/> items into <paramref name="segmentCount"/> random non-empty runs.</summary>
    private static int[] RandomSegmentation(int itemCount, int segmentCount, Rng rng)
    {
        // As HF: shuffle segmentCount-1 "a new run starts after item i" marks among the itemCount-1 gaps.
        bool[] startsAfter = new bool[itemCount - 1];
        startsAfter.AsSpan(0, segmentCount - 1).Fill(true);
        rng.Shuffle<bool>(startsAfter);
        int[] lengths = new int[segmentCount];
        int segment = 0;
        for (int i = 0; i < itemCount; i++)
        {
            lengths[segment]++;
            if (i < itemCount - 1 && startsAfter[i])
            {
                segment++;
            }
        }
        return lengths;
    }

    /// <summary>
    /// HF filter_input_ids over create_sentinel_ids: keeps the tokens of one kind, replaces each run of the other
    /// kind by the next sentinel, appends &lt;/s&gt;; returns the count written.
    /// </summary>
    private int Filter(ReadOnlySpan<int> segment, ReadOnlySpan<bool> noise, bool keepNoise, Span<int> destination)
    {
        int count = 0, sentinel = 0;
        for (int t = 0; t < segment.Length; t++)
        {
            if (noise[t] == keepNoise)
            {
                destination[count++] = segment[t];
            }
            else if (t == 0 || noise[t - 1] == keepNoise)
            {
                destination[count++] = _sentinelIds[sentinel++];
            }
        }
        destination[count++] = _eosId;
        return count;
    }
}
