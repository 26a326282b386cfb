using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>GPT-2 hyper-parameters, read from config.json (HF GPT2Config names) or a named size.</summary>
public sealed record Gpt2Config(
    int VocabSize,
    int MaxPositions,
    int HiddenSize,
    int LayerCount,
    int HeadCount,
    int InnerSize,
    float LayerNormEpsilon = 1e-5f,
    Activation Activation = Activation.GeluTanh,
    bool ScaleAttentionWeights = true,
    bool ScaleAttentionByInverseLayerIndex = false,
    bool TieWordEmbeddings = true,
    int BosTokenId = 50256,
    int EosTokenId = 50256)
{
    public int HeadDim => HiddenSize / HeadCount;

    public static Gpt2Config FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int hidden = config.GetInt("n_embd");
        int heads = config.GetInt("n_head");
        if (hidden % heads != 0)
        {
            throw new CheckpointException($"{config.Source}: n_embd {hidden} is not divisible by n_head {heads}");
        }
        return new Gpt2Config(
            VocabSize: config.GetInt("vocab_size"),
            MaxPositions: config.GetInt("n_positions", config.GetIntOrNull("n_ctx") ?? 1024),
            HiddenSize: hidden,
            LayerCount: config.GetInt("n_layer"),
            HeadCount: heads,
            InnerSize: config.GetIntOrNull("n_inner") ?? 4 * hidden,
            LayerNormEpsilon: config.GetFloat("layer_norm_epsilon", 1e-5f),
            Activation: ActivationNames.Parse(config.GetString("activation_function") ?? "gelu_new", config.Source),
            ScaleAttentionWeights: config.GetBool("scale_attn_weights", true),
            ScaleAttentionByInverseLayerIndex: config.GetBool("scale_attn_by_inverse_layer_idx", false),
            TieWordEmbeddings: config.GetBool("tie_word_embeddings", true),
            BosTokenId: config.GetInt("bos_token_id", 50256),
            EosTokenId: config.GetIdList("eos_token_id").FirstOrDefault(50256));
    }

    /// <summary>Published sizes: GPT-2 (Radford et al. 2019) and the GPT-3 paper's table 2.1 (Brown et al. 2020).</summary>
    public static IReadOnlyDictionary<string, Gpt2Config> Named { get; } = new Dictionary<string, Gpt2Config>(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt2"] = Size(12, 768, 12, 1024),
        ["gpt2-medium"] = Size(24, 1024, 16, 1024),
        ["gpt2-large"] = Size(36, 1280, 20, 1024),
        ["gpt2-xl"] = Size(48, 1600, 25, 1024),
        ["gpt3-small"] = Size(12, 768, 12, 2048),
        ["gpt3-medium"] = Size(24, 1024, 16, 2048),
        ["gpt3-large"] = Size(24, 1536, 16, 2048),
        ["gpt3-xl"] = Size(24, 2048, 24, 2048),
        ["gpt3-2.7b"] = Size(32, 2560, 32, 2048),
        ["gpt3-6.7b"] = Size(32, 4096, 32, 2048),
        // The paper prints d_model 5140 for 13B; 40 heads of 128 make 5120, the value its parameter count fits.
        ["gpt3-13b"] = Size(40, 5120, 40, 2048),
        ["gpt3-175b"] = Size(96, 12288, 96, 2048),
    };

    private static Gpt2Config Size(int layers, int hidden, int heads, int context) =>
        new(50257, context, hidden, layers, heads, 4 * hidden);

    /// <summary>Every tensor a GPT2LMHeadModel checkpoint holds, with its shape: the checkpoint names as data.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ExpectedTensors()
    {
        var list = new List<(string, int[])>
        {
            ("transformer.wte.weight", [VocabSize, HiddenSize]),
            ("transformer.wpe.weight", [MaxPositions, HiddenSize]),
        };
        for (int layer = 0; layer < LayerCount; layer++)
        {
            string prefix = $"transformer.h.{layer}.";
            // GPT-2 uses Conv1D: weights are stored [in, out], the transpose of nn.Linear.
            list.Add((prefix + "ln_1.weight", [HiddenSize]));
            list.Add((prefix + "ln_1.bias", [HiddenSize]));
            list.Add((prefix + "attn.c_attn.weight", [HiddenSize, 3 * HiddenSize]));
            list.Add((prefix + "attn.c_attn.bias", [3 * HiddenSize]));
            list.Add((prefix + "attn.c_proj.weight", [HiddenSize, HiddenSize]));
            list.Add((prefix + "attn.c_proj.bias", [HiddenSize]));
            list.Add((prefix + "ln_2.weight", [HiddenSize]));
            list.Add((prefix + "ln_2.bias", [HiddenSize]));
            list.Add((prefix + "mlp.c_fc.weight", [HiddenSize, InnerSize]));
            list.Add((prefix + "mlp.c_fc.bias", [InnerSize]));
            list.Add((prefix + "mlp.c_proj.weight", [InnerSize, HiddenSize]));
            list.Add((prefix + "mlp.c_proj.bias", [HiddenSize]));
        }
        list.Add(("transformer.ln_f.weight", [HiddenSize]));
        list.Add(("transformer.ln_f.bias", [HiddenSize]));
        if (!TieWordEmbeddings)
        {
            list.Add(("lm_head.weight", [VocabSize, HiddenSize]));
        }
        return list;
    }

    public long ParameterCount => ExpectedTensors().Sum(t => Tensor.ElementCount(t.Shape));

    /// <summary>Float32 key + value bytes per cached token per sequence.</summary>
    public long KvCacheBytesPerToken => 2L * LayerCount * HiddenSize * sizeof(float);
}

/// <summary>What a forward pass returns: logits [batch, tokens, vocab] and, on request, hidden states in HF order.</summary>
public sealed record ModelOutput(Tensor Logits, IReadOnlyList<Tensor>? HiddenStates);

/// <summary>
/// GPT2LMHeadModel: token + learned position embeddings, pre-norm blocks (ln → attention → residual,
/// ln → MLP → residual), final ln_f, and an lm_head tied to the token embeddings.
/// </summary>
public sealed partial class Gpt2Model : ILanguageModel
{
    private readonly Checkpoint? _checkpoint;
    private readonly Block[] _blocks;
    private readonly TokenEmbedding _tokenEmbedding; // wte [vocab, hidden]: the tied head's rows, or its own table
    private readonly Tensor _positionEmbedding;  // wpe [positions, hidden]
    private readonly LayerNorm _finalNorm;
    private readonly Linear _head;               // [vocab, hidden]: nn.Linear layout, tied to wte

    internal sealed record Block(LayerNorm AttentionNorm, MultiHeadAttention Attention, LayerNorm MlpNorm, FeedForward Mlp);

    public Gpt2Model(Gpt2Config config, Func<string, int[], Tensor> weights, Checkpoint? owner = null)
        : this(config, "gpt2", weights, owner, layer => Gpt2Block(config, weights, layer))
    {
    }

    /// <summary>
    /// The decoder core shared by GPT-2-shaped families (GPT-Neo): embeddings, ln_f and lm_head under GPT-2's names,
    /// blocks from <paramref name="blockFactory"/>.
    /// </summary>
    internal Gpt2Model(Gpt2Config config, string modelType, Func<string, int[], Tensor> weights, Checkpoint? owner, Func<int, Block> blockFactory)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        Config = config;
        ModelType = modelType;
        _checkpoint = owner;
        int hidden = config.HiddenSize;
        // Tied (HF leaves lm_head.weight out of the file), the head is built first, over the embedding table, so a
        // low-precision load converts the table and drops its f32 before the blocks load; the lookup reads the head's rows.
        Linear? tiedHead = null;
        if (config.TieWordEmbeddings)
        {
            tiedHead = new Linear(weights("transformer.wte.weight", [config.VocabSize, hidden]), null, WeightLayout.OutputMajor);
            _tokenEmbedding = TokenEmbedding.TiedTo(tiedHead);
        }
        else
        {
            _tokenEmbedding = TokenEmbedding.Untied(weights("transformer.wte.weight", [config.VocabSize, hidden]));
        }
        _positionEmbedding = weights("transformer.wpe.weight", [config.MaxPositions, hidden]);
        _blocks = new Block[config.LayerCount];
        for (int layer = 0; layer < config.LayerCount; layer++)
        {
            _blocks[layer] = blockFactory(layer);
        }
        _finalNorm = new LayerNorm(weights("transformer.ln_f.weight", [hidden]), weights("transformer.ln_f.bias", [hidden]), config.LayerNormEpsilon);
        // Untied (tie_word_embeddings false), lm_head.weight has its own tensor.
        _head = tiedHead ?? new Linear(weights("lm_head.weight", [config.VocabSize, hidden]), null, WeightLayout.OutputMajor);
        SpecialTokens = new SpecialTokens(config.BosTokenId, [config.EosTokenId], -1);
    }

    private static Block Gpt2Block(Gpt2Config config, Func<string, int[], Tensor> weights, int layer)
    {
        int hidden = config.HiddenSize;
        string prefix = $"transformer.h.{layer}.";
        Tensor Weight(string name, params int[] shape) => weights(prefix + name, shape);
        float scale = config.ScaleAttentionWeights ? 1f / MathF.Sqrt(config.HeadDim) : 1f;
        if (config.ScaleAttentionByInverseLayerIndex)
        {
            scale /= layer + 1; // GPT-2 option used by some fine-tunes: deeper layers get flatter attention.
        }
        var attention = MultiHeadAttention.WithFusedProjection(
            new Linear(Weight("attn.c_attn.weight", hidden, 3 * hidden), Weight("attn.c_attn.bias", 3 * hidden), WeightLayout.InputMajor),
            new Linear(Weight("attn.c_proj.weight", hidden, hidden), Weight("attn.c_proj.bias", hidden), WeightLayout.InputMajor),
            config.HeadCount, scale, AttentionKind.Causal);
        var mlp = new FeedForward(
            new Linear(Weight("mlp.c_fc.weight", hidden, config.InnerSize), Weight("mlp.c_fc.bias", config.InnerSize), WeightLayout.InputMajor),
            new Linear(Weight("mlp.c_proj.weight", config.InnerSize, hidden), Weight("mlp.c_proj.bias", hidden), WeightLayout.InputMajor),
            config.Activation);
        return new Block(
            new LayerNorm(Weight("ln_1.weight", hidden), Weight("ln_1.bias", hidden), config.LayerNormEpsilon),
            attention,
            new LayerNorm(Weight("ln_2.weight", hidden), Weight("ln_2.bias", hidden), config.LayerNormEpsilon),
            mlp);
    }

    public static ILanguageModel Load(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = Gpt2Config.FromHf(checkpoint.Config);
        return WithGenerationConfig(new Gpt2Model(config, checkpoint.Read, checkpoint), checkpoint);
    }

    /// <summary>Special tokens from generation_config.json where present, else config.json.</summary>
    internal static Gpt2Model WithGenerationConfig(Gpt2Model model, Checkpoint checkpoint)
    {
        var generation = checkpoint.GenerationConfig;
        int[] eos = generation?.GetIdList("eos_token_id") is { Length: > 0 } ids ? ids : [model.Config.EosTokenId];
        int pad = generation?.GetIntOrNull("pad_token_id") ?? checkpoint.Config.GetIntOrNull("pad_token_id") ?? -1;
        model.SpecialTokens = new SpecialTokens(generation?.GetIntOrNull("bos_token_id") ?? model.Config.BosTokenId, eos, pad);
        return model;
    }

    /// <summary>A model with random weights (N(0, 0.02), unit norms), for benchmarks and tests without a checkpoint.</summary>
    public static Gpt2Model CreateRandom(Gpt2Config config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new Gpt2Model(config, RandomWeights.Create(seed));
    }

    public Gpt2Config Config { get; }

    public string ModelType { get; }

    public int VocabSize => Config.VocabSize;

    public int MaxPositions => Config.MaxPositions;

    public bool IsEncoderDecoder => false;

    public SpecialTokens SpecialTokens { get; private set; }

    /// <summary>Local-attention layers (GPT-Neo) get a cache that keeps only their window.</summary>
    public KvCache CreateCache(int batchSize, int capacity) =>
        new(Config.LayerCount, batchSize, Config.HeadCount, Config.HeadDim, Math.Min(capacity, Config.MaxPositions),
            _blocks.Any(block => block.Attention.LocalWindow > 0) ? [.. _blocks.Select(block => block.Attention.LocalWindow)] : null);

    /// <summary>
    /// Runs <paramref name="tokenCount"/> new tokens for each of <paramref name="batchSize"/> rows.
    /// <paramref name="attentionMask"/>: [batch, past + tokenCount], 1 = token, 0 = padding (null = all tokens).
    /// <paramref name="positionIds"/>: [batch, tokenCount] (null = past..past+tokenCount-1 for every row, as HF).
    /// The cache (null = a fresh one for this call) receives the new keys and values.
    /// </summary>
    public ModelOutput Forward(int[] inputIds, int batchSize, int tokenCount, int[]? attentionMask = null, int[]? positionIds = null,
        KvCache? cache = null, bool outputHiddenStates = false, bool lastPositionOnly = false)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        if (batchSize <= 0 || tokenCount <= 0 || inputIds.Length != batchSize * tokenCount)
        {
            throw new ArgumentException($"input ids hold {inputIds.Length} values; expected batch {batchSize} × {tokenCount} tokens (both > 0)");
        }
        cache ??= CreateCache(batchSize, tokenCount);
        if (cache.BatchSize != batchSize)
        {
            throw new ArgumentException($"the cache was made for batch {cache.BatchSize}, not {batchSize}");
        }
        int past = cache.Length;
        if (past + tokenCount > Config.MaxPositions)
        {
            throw new ArgumentException($"{past + tokenCount} positions exceed the model's context of {Config.MaxPositions}");
        }
        if (positionIds is null)
        {
            positionIds = new int[batchSize * tokenCount];
            for (int i = 0; i < positionIds.Length; i++)
            {
                positionIds[i] = past + i % tokenCount;
            }
        }
        else if (positionIds.Length != batchSize * tokenCount)
        {
            throw new ArgumentException($"position ids hold {positionIds.Length} values; expected {batchSize * tokenCount}");
        }
        if (attentionMask is not null && attentionMask.Length != batchSize * (past + tokenCount))
        {
            throw new ArgumentException($"attention mask holds {attentionMask.Length} values; expected batch {batchSize} × {past + tokenCount} (past + new)");
        }
        var workspace = new Workspace();
        var hiddenStates = outputHiddenStates ? new List<Tensor>() : null;
        int outputRows = lastPositionOnly ? batchSize : batchSize * tokenCount;
        var logits = Tensor.Zeros(lastPositionOnly ? [batchSize, 1, VocabSize] : [batchSize, tokenCount, VocabSize]);
        Run(inputIds, positionIds, attentionMask, 0, batchSize, tokenCount, cache, workspace, hiddenStates, lastPositionOnly, logits.Span[..(outputRows * VocabSize)]);
        return new ModelOutput(logits, hiddenStates);
    }

    /// <summary>Reusable buffers, so decoding allocates nothing per token once they have grown.</summary>
    internal sealed class Workspace
    {
        private float[] _hidden = [], _normed = [], _branch = [], _scratch = [], _last = [];

        public static Memory<float> Grow(ref float[] buffer, int length)
        {
            if (buffer.Length < length)
            {
                buffer = new float[length];
            }
            return buffer.AsMemory(0, length);
        }

        public Memory<float> Hidden(int length) => Grow(ref _hidden, length);

        public Memory<float> Normed(int length) => Grow(ref _normed, length);

        public Memory<float> Branch(int length) => Grow(ref _branch, length);

        public Memory<float> Scratch(int length) => Grow(ref _scratch, length);

        public Memory<float> Last(int length) => Grow(ref _last, length);
    }

    /// <summary>The forward pass. With <paramref name="rowCaches"/> (continuous batching), row b has its own cache and <paramref name="cache"/> is unused.</summary>
    internal void Run(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> positionIds, int[]? attentionMask, int maskRowStride, int batchSize, int tokenCount,
        KvCache? cache, Workspace workspace, List<Tensor>? hiddenStates, bool lastPositionOnly, Span<float> logits, IReadOnlyList<KvCache>? rowCaches = null)
    {
        if ((cache is null) == (rowCaches is null))
        {
            throw new ArgumentException("pass either one cache for the batch or one cache per row");
        }
        int hidden = Config.HiddenSize;
        int rows = batchSize * tokenCount;
        var x = workspace.Hidden(rows * hidden).Span;
        var normed = workspace.Normed(rows * hidden).Span;
        var branch = workspace.Branch(rows * hidden).Span;
        var scratch = workspace.Scratch(Math.Max(_blocks[0].Attention.WorkspaceLength(rows), 2 * rows * Config.InnerSize));
        foreach (int position in positionIds)
        {
            if ((uint)position >= (uint)Config.MaxPositions)
            {
                throw new ArgumentOutOfRangeException(nameof(positionIds), $"position {position} is outside the model's {Config.MaxPositions} positions");
            }
        }

        // Embeddings: token + learned absolute position.
        _tokenEmbedding.Lookup(inputIds, x);
        Embedding.LookupAdd(_positionEmbedding.Span, hidden, positionIds, x);
        hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));

        for (int layer = 0; layer < _blocks.Length; layer++)
        {
            var block = _blocks[layer];
            // Pre-norm attention with residual (GPT-2 moved the norm before each sub-block, unlike BERT/BART).
            block.AttentionNorm.Forward(x, normed);
            if (cache is not null)
            {
                block.Attention.Forward(normed, batchSize, tokenCount, cache, layer, attentionMask, maskRowStride, branch, scratch);
            }
            else
            {
                block.Attention.ForwardRows(normed, rowCaches!, layer, branch, scratch);
            }
            System.Numerics.Tensors.TensorPrimitives.Add(x, branch, x);
            // Pre-norm MLP with residual.
            block.MlpNorm.Forward(x, normed);
            block.Mlp.Forward(normed, rows, branch, scratch.Span);
            System.Numerics.Tensors.TensorPrimitives.Add(x, branch, x);
            if (layer < _blocks.Length - 1)
            {
                hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));
            }
        }

        // Final norm, then the tied head; for generation only the last position of each row is projected.
        int outputRows = rows;
        ReadOnlySpan<float> final = x;
        if (lastPositionOnly)
        {
            var last = workspace.Last(batchSize * hidden).Span;
            for (int b = 0; b < batchSize; b++)
            {
                x.Slice(((b + 1) * tokenCount - 1) * hidden, hidden).CopyTo(last.Slice(b * hidden, hidden));
            }
            final = last;
            outputRows = batchSize;
        }
        _finalNorm.Forward(final, normed[..(outputRows * hidden)]);
        if (hiddenStates is not null)
        {
            _finalNorm.Forward(x, branch);
            hiddenStates.Add(Snapshot(branch, batchSize, tokenCount));
        }
        _head.Forward(normed, outputRows, logits);
    }

    private Tensor Snapshot(ReadOnlySpan<float> x, int batchSize, int tokenCount) =>
        new(x[..(batchSize * tokenCount * Config.HiddenSize)].ToArray(), batchSize, tokenCount, Config.HiddenSize);

    public IGenerationSession StartSession(PromptBatch prompts, int maxNewTokens) => new Gpt2Session(this, prompts, maxNewTokens);

    public void Dispose() => _checkpoint?.Dispose();

    // One finished session's cache and workspace, kept for the next session of the same shape.
    private SessionBuffers? _spareSessionBuffers;

    private sealed record SessionBuffers(KvCache Cache, Workspace Workspace);

    /// <summary>Decoder-only session: left-padded prompts, positions = cumsum(mask) - 1 as HF generate() builds them.</summary>
    private sealed class Gpt2Session : IGenerationSession
    {
        private readonly Gpt2Model _model;
        private readonly KvCache _cache;
        private readonly Workspace _workspace;
        private readonly PromptBatch _prompts;
        private readonly int[] _nextPosition;
        private readonly int[] _positions;
        private readonly int _capacity;
        private int[] _mask;    // [batch, capacity]: 1 for a real token, 0 for left padding
        private int[] _spare;   // the mask's twin, swapped in by Reorder
        private bool _disposed;

        public Gpt2Session(Gpt2Model model, PromptBatch prompts, int maxNewTokens)
        {
            ArgumentNullException.ThrowIfNull(prompts);
            if (maxNewTokens < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(maxNewTokens), "max new tokens must not be negative");
            }
            if (prompts.Length + maxNewTokens > model.MaxPositions)
            {
                throw new ArgumentException(
                    $"a prompt of {prompts.Length} tokens plus {maxNewTokens} new tokens exceeds the model's context of {model.MaxPositions} positions");
            }
            foreach (int id in prompts.Ids)
            {
                if ((uint)id >= (uint)model.VocabSize)
                {
                    throw new ArgumentException($"prompt token id {id} is outside the model's vocabulary of {model.VocabSize}");
                }
            }
            _model = model;
            _prompts = prompts;
            _capacity = prompts.Length + maxNewTokens;
            // The last finished session's cache and buffers, when the shape matches: a fresh 10 MB cache costs page
            // faults and zeroing on every prompt (about a tenth of a 128-token prefill).
            var spare = Interlocked.Exchange(ref model._spareSessionBuffers, null);
            if (spare is not null && spare.Cache.BatchSize == prompts.BatchSize && spare.Cache.Capacity == Math.Min(_capacity, model.MaxPositions))
            {
                spare.Cache.Clear();
                _cache = spare.Cache;
                _workspace = spare.Workspace;
            }
            else
            {
                _cache = model.CreateCache(prompts.BatchSize, _capacity);
                _workspace = new Workspace();
            }
            _nextPosition = new int[prompts.BatchSize];
            _positions = new int[prompts.BatchSize];
            _mask = new int[prompts.BatchSize * _capacity];
            _spare = new int[_mask.Length];
            for (int b = 0; b < prompts.BatchSize; b++)
            {
                prompts.MaskRow(b).CopyTo(_mask.AsSpan(b * _capacity));
                _mask.AsSpan(b * _capacity + prompts.Length, maxNewTokens).Fill(1);
            }
        }

        public int BatchSize => _prompts.BatchSize;

        public int VocabSize => _model.VocabSize;

        public int[] InitialSequences => _prompts.Ids;

        public int InitialLength => _prompts.Length;

        public void Prefill(Span<float> logits)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int length = _prompts.Length;
            var positions = new int[BatchSize * length];
            for (int b = 0; b < BatchSize; b++)
            {
                int count = 0;
                for (int t = 0; t < length; t++)
                {
                    bool real = _prompts.AttentionMask[b * length + t] != 0;
                    count += real ? 1 : 0;
                    positions[b * length + t] = real ? count - 1 : 1; // HF fills padded slots with position 1.
                }
                _nextPosition[b] = count;
            }
            _model.Run(_prompts.Ids, positions, _mask, _capacity, BatchSize, length, _cache, _workspace, null, lastPositionOnly: true, logits[..(BatchSize * VocabSize)]);
        }

        public void Step(ReadOnlySpan<int> nextTokens, Span<float> logits)
        {
            // A disposed session's cache may already serve the next session.
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (nextTokens.Length != BatchSize)
            {
                throw new ArgumentException($"step needs one token per row ({BatchSize}), got {nextTokens.Length}");
            }
            if (_cache.Length >= _capacity)
            {
                throw new InvalidOperationException($"the session was started for {_capacity - _prompts.Length} new tokens and has no room for more");
            }
            for (int b = 0; b < BatchSize; b++)
            {
                if ((uint)nextTokens[b] >= (uint)VocabSize)
                {
                    throw new ArgumentException($"token id {nextTokens[b]} is outside the model's vocabulary of {VocabSize}");
                }
                _positions[b] = _nextPosition[b]++;
            }
            _model.Run(nextTokens, _positions, _mask, _capacity, BatchSize, 1, _cache, _workspace, null, lastPositionOnly: true, logits[..(BatchSize * VocabSize)]);
        }

        public void Reorder(ReadOnlySpan<int> rowIndices)
        {
            _cache.Reorder(rowIndices);
            Span<int> next = stackalloc int[BatchSize];
            for (int b = 0; b < BatchSize; b++)
            {
                _mask.AsSpan(rowIndices[b] * _capacity, _capacity).CopyTo(_spare.AsSpan(b * _capacity));
                next[b] = _nextPosition[rowIndices[b]];
            }
            (_mask, _spare) = (_spare, _mask);
            next.CopyTo(_nextPosition);
        }

        /// <summary>Hands the cache and buffers back to the model for the next session (nothing else holds them).</summary>
        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                Volatile.Write(ref _model._spareSessionBuffers, new SessionBuffers(_cache, _workspace));
            }
        }
    }
}
