using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>XLNet hyper-parameters (HF XLNetConfig names).</summary>
public sealed record XLNetConfig(
    int VocabSize,
    int HiddenSize,
    int LayerCount,
    int HeadCount,
    int HeadDim,
    int InnerSize,
    Activation Activation = Activation.Gelu,
    float LayerNormEpsilon = 1e-12f,
    bool Unidirectional = false,
    int ClampLength = -1,
    int BosTokenId = 1,
    int EosTokenId = 2,
    int PadTokenId = 5)
{
    public int InnerWidth => HeadCount * HeadDim;

    public static XLNetConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string attentionType = config.GetString("attn_type") ?? "bi";
        if (attentionType is not ("bi" or "uni"))
        {
            throw new CheckpointException($"{config.Source}: attn_type '{attentionType}' is neither 'bi' nor 'uni'");
        }
        if (config.GetBool("bi_data", false))
        {
            throw new CheckpointException($"{config.Source}: bi_data true (forward + backward position streams) is not supported");
        }
        if (!config.GetBool("untie_r", true))
        {
            throw new CheckpointException($"{config.Source}: untie_r false (biases shared across layers) is not supported");
        }
        return new XLNetConfig(
            VocabSize: config.GetInt("vocab_size"),
            HiddenSize: config.GetInt("d_model"),
            LayerCount: config.GetInt("n_layer"),
            HeadCount: config.GetInt("n_head"),
            HeadDim: config.GetInt("d_head"),
            InnerSize: config.GetInt("d_inner"),
            Activation: ActivationNames.Parse(config.GetString("ff_activation") ?? "gelu", config.Source),
            LayerNormEpsilon: config.GetFloat("layer_norm_eps", 1e-12f),
            Unidirectional: attentionType == "uni",
            ClampLength: config.GetInt("clamp_len", -1),
            BosTokenId: config.GetInt("bos_token_id", 1),
            EosTokenId: config.GetInt("eos_token_id", 2),
            PadTokenId: config.GetInt("pad_token_id", 5));
    }

    /// <summary>Every tensor an XLNetLMHeadModel checkpoint holds (lm_loss.weight is tied to the word embedding).</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ExpectedTensors()
    {
        var list = new List<(string, int[])>
        {
            ("transformer.mask_emb", [1, 1, HiddenSize]),
            ("transformer.word_embedding.weight", [VocabSize, HiddenSize]),
        };
        for (int layer = 0; layer < LayerCount; layer++)
        {
            string prefix = $"transformer.layer.{layer}.";
            // The projections are [hidden, heads, headDim] tensors used through einsum, not nn.Linear.
            foreach (string name in (string[])["q", "k", "v", "o", "r"])
            {
                list.Add((prefix + "rel_attn." + name, [HiddenSize, HeadCount, HeadDim]));
            }
            foreach (string name in (string[])["r_r_bias", "r_s_bias", "r_w_bias"])
            {
                list.Add((prefix + "rel_attn." + name, [HeadCount, HeadDim]));
            }
            list.Add((prefix + "rel_attn.seg_embed", [2, HeadCount, HeadDim]));
            list.Add((prefix + "rel_attn.layer_norm.weight", [HiddenSize]));
            list.Add((prefix + "rel_attn.layer_norm.bias", [HiddenSize]));
            list.Add((prefix + "ff.layer_norm.weight", [HiddenSize]));
            list.Add((prefix + "ff.layer_norm.bias", [HiddenSize]));
            list.Add((prefix + "ff.layer_1.weight", [InnerSize, HiddenSize]));
            list.Add((prefix + "ff.layer_1.bias", [InnerSize]));
            list.Add((prefix + "ff.layer_2.weight", [HiddenSize, InnerSize]));
            list.Add((prefix + "ff.layer_2.bias", [HiddenSize]));
        }
        list.Add(("lm_loss.bias", [VocabSize]));
        return list;
    }
}

/// <summary>
/// What an XLNet forward returns: logits [batch, tokens or targets, vocab] (from the query stream when a
/// target mapping is given) and, on request, the content stream before each layer and after the last.
/// </summary>
public sealed record XLNetOutput(Tensor Logits, IReadOnlyList<Tensor>? HiddenStates);

/// <summary>
/// XLNetLMHeadModel inference: word embeddings, post-norm blocks of two-stream relative attention (content stream h
/// sees its own token; query stream g starts from mask_emb and sees only what perm_mask allows) and a feed-forward
/// net, then logits = h·Eᵀ + b. Positions enter only as sinusoidal encodings of relative distance (Transformer-XL).
/// Each step is its own method over plain arrays, so a backward pass can be written next to it.
/// </summary>
public sealed partial class XLNetModel : ILanguageModel
{
    private readonly Checkpoint? _checkpoint;
    private readonly TokenEmbedding _wordEmbedding; // [vocab, hidden]: always the tied head's rows
    private readonly Tensor _maskEmbedding;   // [hidden]: the query stream's input at every target
    private readonly List<(Tensor View, Tensor Source)> _reshaped = [];  // views over loaded tensors (training maps their gradients)
    private readonly Layer[] _layers;
    private readonly Linear _head;            // tied to the word embedding, bias lm_loss.bias

    private sealed record Layer(
        Linear Query, Linear Key, Linear Value, Linear Position, Linear Output,  // [hidden → heads·headDim]; Output back
        Tensor ContentBias, Tensor PositionBias, Tensor SegmentBias,              // r_w_bias, r_r_bias, r_s_bias [heads, headDim]
        Tensor SegmentEmbedding,                                                 // seg_embed [2, heads, headDim]: same / different segment
        LayerNorm AttentionNorm, FeedForward FeedForward, LayerNorm FeedForwardNorm);

    public XLNetModel(XLNetConfig config, Func<string, int[], Tensor> weights, Checkpoint? owner = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        Config = config;
        _checkpoint = owner;
        int hidden = config.HiddenSize, inner = config.InnerWidth;
        var wordTable = weights("transformer.word_embedding.weight", [config.VocabSize, hidden]);
        _maskEmbedding = View(weights("transformer.mask_emb", [1, 1, hidden]), hidden);
        _layers = new Layer[config.LayerCount];
        for (int layer = 0; layer < config.LayerCount; layer++)
        {
            string prefix = $"transformer.layer.{layer}.";
            Tensor Weight(string name, params int[] shape) => weights(prefix + name, shape);
            // einsum("ibh,hnd->ibnd"): [hidden, heads, headDim] is an input-major [hidden, inner] matrix.
            Linear Projection(string name) =>
                new(View(Weight("rel_attn." + name, hidden, config.HeadCount, config.HeadDim), hidden, inner), null, WeightLayout.InputMajor);
            _layers[layer] = new Layer(
                Projection("q"), Projection("k"), Projection("v"), Projection("r"),
                // einsum("ibnd,hnd->ibh"): the same tensor read as [out = hidden, in = inner].
                new Linear(View(Weight("rel_attn.o", hidden, config.HeadCount, config.HeadDim), hidden, inner), null, WeightLayout.OutputMajor),
                Weight("rel_attn.r_w_bias", config.HeadCount, config.HeadDim),
                Weight("rel_attn.r_r_bias", config.HeadCount, config.HeadDim),
                Weight("rel_attn.r_s_bias", config.HeadCount, config.HeadDim),
                Weight("rel_attn.seg_embed", 2, config.HeadCount, config.HeadDim),
                new LayerNorm(Weight("rel_attn.layer_norm.weight", hidden), Weight("rel_attn.layer_norm.bias", hidden), config.LayerNormEpsilon),
                new FeedForward(
                    new Linear(Weight("ff.layer_1.weight", config.InnerSize, hidden), Weight("ff.layer_1.bias", config.InnerSize), WeightLayout.OutputMajor),
                    new Linear(Weight("ff.layer_2.weight", hidden, config.InnerSize), Weight("ff.layer_2.bias", hidden), WeightLayout.OutputMajor),
                    config.Activation),
                new LayerNorm(Weight("ff.layer_norm.weight", hidden), Weight("ff.layer_norm.bias", hidden), config.LayerNormEpsilon));
        }
        // lm_loss.weight is tied to the word embedding (absent from the file); its bias is stored.
        _head = new Linear(wordTable, weights("lm_loss.bias", [config.VocabSize]), WeightLayout.OutputMajor);
        // The embedding reads the head's rows (its bf16/int8 copy in a low-precision load, which dropped the f32 table).
        _wordEmbedding = TokenEmbedding.TiedTo(_head);
        if (!_head.HasFloat32Weight)
        {
            // A low-precision load released every projection's f32 weight; the trainer's view list must not keep them alive.
            _reshaped.Clear();
        }
        SpecialTokens = new SpecialTokens(config.BosTokenId, [config.EosTokenId], config.PadTokenId);
    }

    private Tensor View(Tensor source, params int[] shape)
    {
        var view = source.Reshape(shape);
        _reshaped.Add((view, source));
        return view;
    }

    /// <summary>Reshaped views the layers use and the loaded tensors they view (a trainer gives both one gradient).</summary>
    internal IReadOnlyList<(Tensor View, Tensor Source)> ReshapedWeights => _reshaped;

    public static ILanguageModel Load(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return new XLNetModel(XLNetConfig.FromHf(checkpoint.Config), checkpoint.Read, checkpoint);
    }

    public XLNetConfig Config { get; }

    public string ModelType => "xlnet";

    public int VocabSize => Config.VocabSize;

    /// <summary>Relative positions have no table, so no fixed limit; this bounds what generation may ask for.</summary>
    public int MaxPositions => 4096;

    public bool IsEncoderDecoder => false;

    public SpecialTokens SpecialTokens { get; }

    /// <summary>
    /// One forward over <paramref name="batchSize"/> rows of <paramref name="tokenCount"/> tokens.
    /// <paramref name="permMask"/> [batch, tokens, tokens] (null = none): 1 where query i may NOT see token j.
    /// <paramref name="targetMapping"/> [batch, targets, tokens] (null = no query stream): which positions to predict;
    /// then the logits are the query stream's, [batch, targets, vocab]. <paramref name="tokenTypeIds"/> [batch, tokens]
    /// (null = none) feed the segment term; <paramref name="attentionMask"/> [batch, tokens] (null = all 1) marks padding with 0.
    /// </summary>
    public XLNetOutput Forward(int[] inputIds, int batchSize, int tokenCount, float[]? permMask = null, float[]? targetMapping = null,
        int targetCount = 0, int[]? tokenTypeIds = null, int[]? attentionMask = null, bool outputHiddenStates = false)
    {
        CheckInputs(inputIds, batchSize, tokenCount, permMask, targetMapping, targetCount, tokenTypeIds, attentionMask);

        int hidden = Config.HiddenSize;
        int outputRows = targetMapping is null ? tokenCount : targetCount;
        var logits = Tensor.Zeros(batchSize, outputRows, VocabSize);
        var hiddenStates = outputHiddenStates ? new List<Tensor>() : null;
        var relative = RelativePositionEncoding(tokenCount);
        for (int b = 0; b < batchSize; b++)
        {
            var states = hiddenStates is null ? null : new List<float[]>();
            var row = new Row(
                inputIds.AsMemory(b * tokenCount, tokenCount),
                permMask?.AsMemory(b * tokenCount * tokenCount, tokenCount * tokenCount),
                targetMapping?.AsMemory(b * targetCount * tokenCount, targetCount * tokenCount),
                targetCount,
                tokenTypeIds?.AsMemory(b * tokenCount, tokenCount),
                attentionMask?.AsMemory(b * tokenCount, tokenCount));
            var final = RunRow(row, relative, states);
            _head.Forward(final, outputRows, logits.Span.Slice(b * outputRows * VocabSize, outputRows * VocabSize));
            if (states is not null)
            {
                for (int i = 0; i < states.Count; i++)
                {
                    if (hiddenStates!.Count <= i)
                    {
                        hiddenStates.Add(Tensor.Zeros(batchSize, tokenCount, hidden));
                    }
                    states[i].CopyTo(hiddenStates[i].Span.Slice(b * tokenCount * hidden, tokenCount * hidden));
                }
            }
        }
        return new XLNetOutput(logits, hiddenStates);
    }

    private readonly record struct Row(ReadOnlyMemory<int> Ids, ReadOnlyMemory<float>? PermMask, ReadOnlyMemory<float>? TargetMapping,
        int TargetCount, ReadOnlyMemory<int>? TokenTypes, ReadOnlyMemory<int>? AttentionMask)
    {
        public int Length => Ids.Length;

        /// <summary>HF's data mask: query i may not see token j (perm_mask, or j is padding).</summary>
        public bool Hidden(int i, int j) =>
            (PermMask is { } perm && perm.Span[i * Length + j] > 0) || (AttentionMask is { } mask && mask.Span[j] == 0);
    }

    /// <summary>One batch row through every layer; returns the stream the head reads ([tokens or targets, hidden]).</summary>
    private float[] RunRow(Row row, float[] relative, List<float[]>? states)
    {
        int tokens = row.Length, hidden = Config.HiddenSize;
        // Content stream: word embeddings. Query stream (only with a target mapping): mask_emb at every target.
        var content = new float[tokens * hidden];
        _wordEmbedding.Lookup(row.Ids.Span, content);
        float[]? query = null;
        if (row.TargetMapping is not null)
        {
            query = new float[row.TargetCount * hidden];
            for (int m = 0; m < row.TargetCount; m++)
            {
                _maskEmbedding.Span.CopyTo(query.AsSpan(m * hidden));
            }
        }
        states?.Add((float[])content.Clone());
        foreach (var layer in _layers)
        {
            (content, query) = TwoStreamAttention(layer, row, content, query, relative);
            content = FeedForward(layer, content, tokens);
            query = query is null ? null : FeedForward(layer, query, row.TargetCount);
            states?.Add((float[])content.Clone());
        }
        return query ?? content;
    }

    /// <summary>
    /// Sinusoidal encodings of relative distance, [2·tokens - 1, hidden]: row r encodes distance (tokens-1) - r, so
    /// query i and key j use row (tokens-1) - (i-j). Layout [sin over freqs | cos over freqs] as Transformer-XL.
    /// </summary>
    private float[] RelativePositionEncoding(int tokens)
    {
        int hidden = Config.HiddenSize, half = hidden / 2;
        var encoding = new float[(2 * tokens - 1) * hidden];
        for (int r = 0; r < 2 * tokens - 1; r++)
        {
            float distance = tokens - 1 - r;
            if (Config.ClampLength > 0)
            {
                distance = Math.Clamp(distance, -Config.ClampLength, Config.ClampLength);
            }
            for (int f = 0; f < half; f++)
            {
                // inv_freq = 1 / 10000^(2f / d_model), computed in float32 as HF does.
                float inverseFrequency = 1f / MathF.Pow(10000f, 2f * f / hidden);
                float angle = distance * inverseFrequency;
                encoding[r * hidden + f] = MathF.Sin(angle);
                encoding[r * hidden + half + f] = MathF.Cos(angle);
            }
        }
        return encoding;
    }

    /// <summary>
    /// Relative attention for both streams, sharing keys and values from the content stream:
    /// score(i, j) = [(q_i + r_w)·k_j + (q_i + r_r)·r_{i-j} + (q_i + r_s)·s_{ij}] / sqrt(headDim), then post-norm residual.
    /// </summary>
    private (float[] Content, float[]? Query) TwoStreamAttention(Layer layer, Row row, float[] content, float[]? query, float[] relative)
    {
        int tokens = row.Length, hidden = Config.HiddenSize, inner = Config.InnerWidth;
        var keys = new float[tokens * inner];
        var values = new float[tokens * inner];
        var positions = new float[(2 * tokens - 1) * inner];
        layer.Key.Forward(content, tokens, keys);
        layer.Value.Forward(content, tokens, values);
        layer.Position.Forward(relative, 2 * tokens - 1, positions);

        // Content stream: every token queries; it may always see itself (HF's non_tgt_mask).
        var contentQueries = new float[tokens * inner];
        layer.Query.Forward(content, tokens, contentQueries);
        var contentHeads = new float[tokens * inner];
        Attend(layer, row, contentQueries, keys, values, positions, (i, j) => i != j && row.Hidden(i, j), contentHeads);
        var newContent = PostAttention(layer, contentHeads, content, tokens);
        if (query is null)
        {
            return (newContent, null);
        }

        // Query stream: project g, scatter each target's query to its position (einsum mbnd,mlb->lbnd), attend without
        // seeing the position's own token, then gather back (lbnd,mlb->mbnd).
        int targets = row.TargetCount;
        var mapping = row.TargetMapping!.Value.Span;
        var targetQueries = new float[targets * inner];
        layer.Query.Forward(query, targets, targetQueries);
        var scattered = new float[tokens * inner];
        for (int m = 0; m < targets; m++)
        {
            for (int l = 0; l < tokens; l++)
            {
                float weight = mapping[m * tokens + l];
                if (weight != 0f)
                {
                    TensorPrimitives.MultiplyAdd(targetQueries.AsSpan(m * inner, inner), weight, scattered.AsSpan(l * inner, inner), scattered.AsSpan(l * inner, inner));
                }
            }
        }
        var positionHeads = new float[tokens * inner];
        Attend(layer, row, scattered, keys, values, positions, row.Hidden, positionHeads);
        var targetHeads = new float[targets * inner];
        for (int m = 0; m < targets; m++)
        {
            for (int l = 0; l < tokens; l++)
            {
                float weight = mapping[m * tokens + l];
                if (weight != 0f)
                {
                    TensorPrimitives.MultiplyAdd(positionHeads.AsSpan(l * inner, inner), weight, targetHeads.AsSpan(m * inner, inner), targetHeads.AsSpan(m * inner, inner));
                }
            }
        }
        return (newContent, PostAttention(layer, targetHeads, query, targets));
    }

    /// <summary>
    /// Per head and query: content term through the shared kernel (q + r_w against the keys); position and segment
    /// terms enter as its score bias; <paramref name="hidden"/>(i, j) drops key j for query i.
    /// </summary>
    private void Attend(Layer layer, Row row, float[] queries, float[] keys, float[] values, float[] positions, Func<int, int, bool> hidden, float[] heads)
    {
        int tokens = row.Length, inner = Config.InnerWidth, headDim = Config.HeadDim;
        float scale = 1f / MathF.Sqrt(headDim);
        var headKeys = new float[tokens * headDim];
        var headValues = new float[tokens * headDim];
        var shifted = new float[headDim];
        var bias = new float[tokens];
        var mask = new int[tokens];
        var scores = new float[tokens];
        var segmentScores = new float[2];
        for (int h = 0; h < Config.HeadCount; h++)
        {
            for (int j = 0; j < tokens; j++)
            {
                keys.AsSpan(j * inner + h * headDim, headDim).CopyTo(headKeys.AsSpan(j * headDim));
                values.AsSpan(j * inner + h * headDim, headDim).CopyTo(headValues.AsSpan(j * headDim));
            }
            var contentBias = layer.ContentBias.Span.Slice(h * headDim, headDim);
            var positionBias = layer.PositionBias.Span.Slice(h * headDim, headDim);
            var segmentBias = layer.SegmentBias.Span.Slice(h * headDim, headDim);
            for (int i = 0; i < tokens; i++)
            {
                var query = queries.AsSpan(i * inner + h * headDim, headDim);
                // Position term (q_i + r_r)·R(i - j); the kernel adds bias after scaling q·k, so the bias carries its own scale.
                TensorPrimitives.Add(query, positionBias, shifted);
                for (int j = 0; j < tokens; j++)
                {
                    int r = tokens - 1 - (i - j);
                    bias[j] = TensorPrimitives.Dot(shifted, positions.AsSpan(r * inner + h * headDim, headDim)) * scale;
                    mask[j] = hidden(i, j) ? 0 : 1;
                }
                if (row.TokenTypes is { } types)
                {
                    // Segment term: seg_embed[0] when i and j share a segment, [1] otherwise (XLNet's relative segments).
                    TensorPrimitives.Add(query, segmentBias, shifted);
                    for (int s = 0; s < 2; s++)
                    {
                        segmentScores[s] = TensorPrimitives.Dot(shifted, layer.SegmentEmbedding.Span.Slice((s * Config.HeadCount + h) * headDim, headDim)) * scale;
                    }
                    for (int j = 0; j < tokens; j++)
                    {
                        bias[j] += segmentScores[types.Span[i] == types.Span[j] ? 0 : 1];
                    }
                }
                if (Config.Unidirectional)
                {
                    for (int j = i + 1; j < tokens; j++)
                    {
                        mask[j] = 0;
                    }
                }
                TensorPrimitives.Add(query, contentBias, shifted);
                Attention.Head(shifted, headDim, headKeys, headValues, mask, bias, 1, tokens, headDim, scale,
                    AttentionKind.Bidirectional, 0, 0, heads.AsSpan(i * inner + h * headDim, headDim), inner, scores);
            }
        }
    }

    /// <summary>Output projection, residual, layer norm (XLNet is post-norm).</summary>
    private static float[] PostAttention(Layer layer, float[] heads, float[] residual, int rows)
    {
        var output = new float[residual.Length];
        layer.Output.Forward(heads, rows, output);
        TensorPrimitives.Add(output, residual, output);
        layer.AttentionNorm.Forward(output, output);
        return output;
    }

    /// <summary>layer_1 → activation → layer_2, residual, layer norm.</summary>
    private float[] FeedForward(Layer layer, float[] input, int rows)
    {
        var output = new float[input.Length];
        layer.FeedForward.Forward(input, rows, output, new float[2 * rows * Config.InnerSize]);
        TensorPrimitives.Add(output, input, output);
        layer.FeedForwardNorm.Forward(output, output);
        return output;
    }

    private void CheckInputs(int[] inputIds, int batchSize, int tokenCount, float[]? permMask, float[]? targetMapping, int targetCount,
        int[]? tokenTypeIds, int[]? attentionMask)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        Check(inputIds.Length == batchSize * tokenCount && batchSize > 0 && tokenCount > 0, $"input ids hold {inputIds.Length} values; expected batch {batchSize} × {tokenCount} tokens (both > 0)");
        Check(permMask is null || permMask.Length == batchSize * tokenCount * tokenCount, $"perm_mask must be [batch {batchSize}, {tokenCount}, {tokenCount}]");
        Check(targetMapping is null || (targetCount > 0 && targetMapping.Length == batchSize * targetCount * tokenCount),
            $"target_mapping must be [batch {batchSize}, targets {targetCount} (> 0), {tokenCount}]");
        Check(tokenTypeIds is null || tokenTypeIds.Length == batchSize * tokenCount, $"token type ids must be [batch {batchSize}, {tokenCount}]");
        Check(attentionMask is null || attentionMask.Length == batchSize * tokenCount, $"attention mask must be [batch {batchSize}, {tokenCount}]");
        foreach (int id in inputIds)
        {
            Check((uint)id < (uint)VocabSize, $"token id {id} is outside the vocabulary of {VocabSize}");
        }
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }

    /// <summary>XLNet predicts tokens at chosen positions through perm_mask and target_mapping; it has no KV-cached decoding here.</summary>
    public IGenerationSession StartSession(PromptBatch prompts, int maxNewTokens) =>
        throw new NotSupportedException("XLNet runs permutation-LM forwards (perm_mask, target_mapping); cached left-to-right generation is not implemented");

    public void Dispose() => _checkpoint?.Dispose();
}
