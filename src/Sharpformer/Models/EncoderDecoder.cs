using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>
/// An encoder-decoder's past_key_values: the decoder's self-attention cache grows by one position per step; the
/// cross-attention keys and values are projected from the encoder output once and only read afterwards.
/// </summary>
public sealed class EncoderDecoderCache
{
    public EncoderDecoderCache(KvCache self, KvCache cross)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(cross);
        if (self.BatchSize != cross.BatchSize)
        {
            throw new ArgumentException($"self cache batch {self.BatchSize} differs from cross cache batch {cross.BatchSize}");
        }
        Self = self;
        Cross = cross;
    }

    public KvCache Self { get; }

    /// <summary>Per layer [batch, heads, sourceLength, headDim]; filled once, by the first decoder call.</summary>
    public KvCache Cross { get; }

    public int BatchSize => Self.BatchSize;

    /// <summary>Decoder positions cached.</summary>
    public int Length => Self.Length;

    public bool HasCross => Cross.Length > 0;

    /// <summary>Row b becomes old row <paramref name="rowIndices"/>[b] in both caches (beam search).</summary>
    public void Reorder(ReadOnlySpan<int> rowIndices)
    {
        Self.Reorder(rowIndices);
        Cross.Reorder(rowIndices);
    }
}

/// <summary>What an encoder-decoder forward returns: decoder logits [batch, target, vocab], the encoder output, and hidden states on request.</summary>
public sealed record Seq2SeqOutput(Tensor Logits, Tensor EncoderLastHiddenState, IReadOnlyList<Tensor>? EncoderHiddenStates,
    IReadOnlyList<Tensor>? DecoderHiddenStates);

/// <summary>
/// What BART and T5 share: encode once, cache cross-attention keys and values, decode one token per step. The
/// generation session lives here so both families go through the same Generation loops.
/// </summary>
public abstract class EncoderDecoderModel : ILanguageModel
{
    public abstract string ModelType { get; }

    public abstract int VocabSize { get; }

    /// <summary>Longest decoder sequence (decoder start token included).</summary>
    public abstract int MaxPositions { get; }

    public bool IsEncoderDecoder => true;

    public SpecialTokens SpecialTokens { get; protected set; } = new(-1, [], -1);

    public abstract int HiddenSize { get; }

    protected abstract int DecoderLayerCount { get; }

    protected abstract int HeadCount { get; }

    protected abstract int HeadDim { get; }

    /// <summary>
    /// Encoder: ids and mask [batch, sourceLength] (mask null = no padding; padding only masks keys) →
    /// last hidden state [batch·sourceLength, hidden]; <paramref name="hiddenStates"/> collects HF's hidden_states.
    /// </summary>
    public abstract float[] Encode(ReadOnlySpan<int> inputIds, int[]? attentionMask, int batchSize, int sourceLength, List<Tensor>? hiddenStates = null);

    /// <summary>Each decoder layer's cross-attention, in layer order.</summary>
    protected abstract IReadOnlyList<Layers.MultiHeadAttention> CrossAttentions { get; }

    /// <summary>Projects the encoder output into every decoder layer's cross keys and values, once per generation.</summary>
    protected void FillCrossCache(ReadOnlySpan<float> encoderOutput, int batchSize, int sourceLength, EncoderDecoderCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        var crossAttentions = CrossAttentions;
        var workspace = new float[2 * batchSize * sourceLength * crossAttentions[0].InnerWidth];
        for (int layer = 0; layer < crossAttentions.Count; layer++)
        {
            crossAttentions[layer].ProjectMemory(encoderOutput, batchSize, sourceLength, cache.Cross, layer, workspace);
        }
    }

    /// <summary>Decoder: new ids [batch, tokenCount] after the cached ones → logits [batch, tokenCount or 1, vocab].</summary>
    protected abstract void DecodeCore(ReadOnlySpan<int> decoderIds, int batchSize, int tokenCount, EncoderDecoderCache cache, int[]? sourceMask,
        List<Tensor>? hiddenStates, bool lastPositionOnly, Span<float> logits);

    public EncoderDecoderCache CreateCache(int batchSize, int sourceLength, int decoderCapacity) =>
        new(new KvCache(DecoderLayerCount, batchSize, HeadCount, HeadDim, Math.Max(1, Math.Min(decoderCapacity, MaxPositions))),
            new KvCache(DecoderLayerCount, batchSize, HeadCount, HeadDim, sourceLength));

    /// <summary>
    /// Runs the decoder over <paramref name="tokenCount"/> new ids per row. The first call on a cache projects
    /// <paramref name="encoderOutput"/> into the cross cache; later calls reuse it (and may pass an empty span).
    /// </summary>
    public Tensor Decode(ReadOnlySpan<int> decoderIds, int batchSize, int tokenCount, ReadOnlySpan<float> encoderOutput, int[]? sourceMask,
        EncoderDecoderCache cache, List<Tensor>? hiddenStates = null, bool lastPositionOnly = false)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (batchSize <= 0 || tokenCount <= 0 || decoderIds.Length != batchSize * tokenCount)
        {
            throw new ArgumentException($"decoder ids hold {decoderIds.Length} values; expected batch {batchSize} × {tokenCount} tokens (both > 0)");
        }
        if (cache.BatchSize != batchSize)
        {
            throw new ArgumentException($"the cache was made for batch {cache.BatchSize}, not {batchSize}");
        }
        if (cache.Length + tokenCount > MaxPositions)
        {
            throw new ArgumentException($"{cache.Length + tokenCount} decoder positions exceed the model's {MaxPositions}");
        }
        foreach (int id in decoderIds)
        {
            if ((uint)id >= (uint)VocabSize)
            {
                throw new ArgumentException($"token id {id} is outside the model's vocabulary of {VocabSize}");
            }
        }
        int sourceLength = cache.Cross.Capacity;
        if (sourceMask is not null && sourceMask.Length != batchSize * sourceLength)
        {
            throw new ArgumentException($"source mask holds {sourceMask.Length} values; expected batch {batchSize} × {sourceLength}");
        }
        if (!cache.HasCross)
        {
            if (encoderOutput.Length != batchSize * sourceLength * HiddenSize)
            {
                throw new ArgumentException($"encoder output holds {encoderOutput.Length} values; expected [{batchSize}, {sourceLength}, {HiddenSize}]");
            }
            FillCrossCache(encoderOutput, batchSize, sourceLength, cache);
        }
        var logits = Tensor.Zeros(batchSize, lastPositionOnly ? 1 : tokenCount, VocabSize);
        DecodeCore(decoderIds, batchSize, tokenCount, cache, sourceMask, hiddenStates, lastPositionOnly, logits.Span);
        return logits;
    }

    /// <summary>model(input_ids, attention_mask, decoder_input_ids): encoder then an uncached-from-scratch decoder pass.</summary>
    public Seq2SeqOutput Forward(int[] inputIds, int[]? attentionMask, int batchSize, int sourceLength, int[] decoderIds, int targetLength,
        EncoderDecoderCache? cache = null, bool outputHiddenStates = false)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(decoderIds);
        CheckSource(inputIds, attentionMask, batchSize, sourceLength);
        var encoderStates = outputHiddenStates ? new List<Tensor>() : null;
        var decoderStates = outputHiddenStates ? new List<Tensor>() : null;
        float[] encoded = Encode(inputIds, attentionMask, batchSize, sourceLength, encoderStates);
        cache ??= CreateCache(batchSize, sourceLength, targetLength);
        var logits = Decode(decoderIds, batchSize, targetLength, encoded, attentionMask, cache, decoderStates);
        return new Seq2SeqOutput(logits, new Tensor(encoded, batchSize, sourceLength, HiddenSize), encoderStates, decoderStates);
    }

    private void CheckSource(ReadOnlySpan<int> inputIds, int[]? attentionMask, int batchSize, int sourceLength)
    {
        if (batchSize <= 0 || sourceLength <= 0 || inputIds.Length != batchSize * sourceLength)
        {
            throw new ArgumentException($"input ids hold {inputIds.Length} values; expected batch {batchSize} × {sourceLength} tokens (both > 0)");
        }
        if (attentionMask is not null && attentionMask.Length != inputIds.Length)
        {
            throw new ArgumentException($"attention mask holds {attentionMask.Length} values; expected {inputIds.Length}");
        }
        foreach (int id in inputIds)
        {
            if ((uint)id >= (uint)VocabSize)
            {
                throw new ArgumentException($"token id {id} is outside the model's vocabulary of {VocabSize}");
            }
        }
    }

    protected Tensor Snapshot(ReadOnlySpan<float> x, int batchSize, int tokenCount) =>
        new(x[..(batchSize * tokenCount * HiddenSize)].ToArray(), batchSize, tokenCount, HiddenSize);

    public IGenerationSession StartSession(PromptBatch prompts, int maxNewTokens) => new Session(this, prompts, maxNewTokens);

    public abstract void Dispose();

    /// <summary>Encodes the prompts once, then decodes from the decoder start token; Reorder moves both caches and the source mask.</summary>
    private sealed class Session : IGenerationSession
    {
        private readonly EncoderDecoderModel _model;
        private readonly EncoderDecoderCache _cache;
        private readonly float[] _encoderOutput;
        private readonly int _sourceLength;
        private readonly int _capacity;
        private int[] _sourceMask;
        private int[] _spare;

        public Session(EncoderDecoderModel model, PromptBatch prompts, int maxNewTokens)
        {
            ArgumentNullException.ThrowIfNull(prompts);
            if (maxNewTokens < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(maxNewTokens), "max new tokens must not be negative");
            }
            if (1 + maxNewTokens > model.MaxPositions)
            {
                throw new ArgumentException($"the decoder start token plus {maxNewTokens} new tokens exceed the model's {model.MaxPositions} decoder positions");
            }
            int start = model.SpecialTokens.DecoderStartTokenId;
            if ((uint)start >= (uint)model.VocabSize)
            {
                throw new InvalidOperationException($"the model declares no valid decoder_start_token_id (got {start})");
            }
            model.CheckSource(prompts.Ids, prompts.AttentionMask, prompts.BatchSize, prompts.Length);
            _model = model;
            _sourceLength = prompts.Length;
            _capacity = 1 + maxNewTokens;
            _sourceMask = (int[])prompts.AttentionMask.Clone();
            _spare = new int[_sourceMask.Length];
            _encoderOutput = model.Encode(prompts.Ids, _sourceMask, prompts.BatchSize, prompts.Length);
            _cache = model.CreateCache(prompts.BatchSize, prompts.Length, _capacity);
            InitialSequences = Enumerable.Repeat(start, prompts.BatchSize).ToArray();
        }

        public int BatchSize => _cache.BatchSize;

        public int VocabSize => _model.VocabSize;

        public int[] InitialSequences { get; }

        public int InitialLength => 1;

        public void Prefill(Span<float> logits) => Run(InitialSequences, logits);

        public void Step(ReadOnlySpan<int> nextTokens, Span<float> logits)
        {
            if (nextTokens.Length != BatchSize)
            {
                throw new ArgumentException($"step needs one token per row ({BatchSize}), got {nextTokens.Length}");
            }
            if (_cache.Length >= _capacity)
            {
                throw new InvalidOperationException($"the session was started for {_capacity - 1} new tokens and has no room for more");
            }
            Run(nextTokens, logits);
        }

        private void Run(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            var output = _model.Decode(tokens, BatchSize, 1, _encoderOutput, _sourceMask, _cache, lastPositionOnly: true);
            output.Span.CopyTo(logits);
        }

        public void Reorder(ReadOnlySpan<int> rowIndices)
        {
            _cache.Reorder(rowIndices);
            for (int b = 0; b < BatchSize; b++)
            {
                _sourceMask.AsSpan(rowIndices[b] * _sourceLength, _sourceLength).CopyTo(_spare.AsSpan(b * _sourceLength));
            }
            (_sourceMask, _spare) = (_spare, _sourceMask);
        }

        public void Dispose() { }
    }
}
