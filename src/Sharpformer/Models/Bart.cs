using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>BART hyper-parameters, read from config.json (HF BartConfig names).</summary>
public sealed record BartConfig(
    int VocabSize,
    int MaxPositions,
    int HiddenSize,
    int EncoderLayerCount,
    int DecoderLayerCount,
    int EncoderHeadCount,
    int DecoderHeadCount,
    int EncoderFfnSize,
    int DecoderFfnSize,
    Activation Activation = Activation.Gelu,
    bool ScaleEmbedding = false,
    bool TieWordEmbeddings = true,
    int BosTokenId = 0,
    int PadTokenId = 1,
    int EosTokenId = 2,
    int DecoderStartTokenId = 2,
    int ForcedBosTokenId = -1,
    int ForcedEosTokenId = 2)
{
    /// <summary>BartLearnedPositionalEmbedding stores two extra rows and looks positions up at index + 2 (a fairseq leftover).</summary>
    public const int PositionOffset = 2;

    /// <summary>BART's nn.LayerNorm uses torch's default epsilon.</summary>
    public const float LayerNormEpsilon = 1e-5f;

    public int HeadDim => HiddenSize / DecoderHeadCount;

    public static BartConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int hidden = config.GetInt("d_model");
        int encoderHeads = config.GetInt("encoder_attention_heads");
        int decoderHeads = config.GetInt("decoder_attention_heads");
        if (hidden % encoderHeads != 0 || hidden % decoderHeads != 0)
        {
            throw new CheckpointException($"{config.Source}: d_model {hidden} is not divisible by the attention heads ({encoderHeads}, {decoderHeads})");
        }
        if (config.GetBool("normalize_before", false) || config.GetBool("add_final_layer_norm", false))
        {
            throw new CheckpointException($"{config.Source}: pre-norm BART variants (normalize_before / add_final_layer_norm, mBART) are not supported");
        }
        return new BartConfig(
            VocabSize: config.GetInt("vocab_size"),
            MaxPositions: config.GetInt("max_position_embeddings"),
            HiddenSize: hidden,
            EncoderLayerCount: config.GetInt("encoder_layers"),
            DecoderLayerCount: config.GetInt("decoder_layers"),
            EncoderHeadCount: encoderHeads,
            DecoderHeadCount: decoderHeads,
            EncoderFfnSize: config.GetInt("encoder_ffn_dim"),
            DecoderFfnSize: config.GetInt("decoder_ffn_dim"),
            Activation: ActivationNames.Parse(config.GetString("activation_function") ?? "gelu", config.Source),
            ScaleEmbedding: config.GetBool("scale_embedding", false),
            TieWordEmbeddings: config.GetBool("tie_word_embeddings", true),
            BosTokenId: config.GetInt("bos_token_id", 0),
            PadTokenId: config.GetInt("pad_token_id", 1),
            EosTokenId: config.GetIdList("eos_token_id").FirstOrDefault(2),
            DecoderStartTokenId: config.GetInt("decoder_start_token_id", 2),
            ForcedBosTokenId: config.GetIntOrNull("forced_bos_token_id") ?? -1,
            ForcedEosTokenId: config.GetIntOrNull("forced_eos_token_id") ?? -1);
    }

    /// <summary>Every tensor a BartForConditionalGeneration checkpoint holds, with its shape: the checkpoint names as data.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ExpectedTensors()
    {
        var list = new List<(string, int[])> { ("model.shared.weight", [VocabSize, HiddenSize]) };
        foreach (string side in (string[])["encoder", "decoder"])
        {
            string prefix = $"model.{side}.";
            list.Add((prefix + "embed_positions.weight", [MaxPositions + PositionOffset, HiddenSize]));
            list.Add((prefix + "layernorm_embedding.weight", [HiddenSize]));
            list.Add((prefix + "layernorm_embedding.bias", [HiddenSize]));
            bool decoder = side == "decoder";
            int ffn = decoder ? DecoderFfnSize : EncoderFfnSize;
            for (int layer = 0; layer < (decoder ? DecoderLayerCount : EncoderLayerCount); layer++)
            {
                string block = $"{prefix}layers.{layer}.";
                foreach (string attention in decoder ? (string[])["self_attn", "encoder_attn"] : ["self_attn"])
                {
                    foreach (string projection in (string[])["q_proj", "k_proj", "v_proj", "out_proj"])
                    {
                        list.Add(($"{block}{attention}.{projection}.weight", [HiddenSize, HiddenSize]));
                        list.Add(($"{block}{attention}.{projection}.bias", [HiddenSize]));
                    }
                    list.Add(($"{block}{attention}_layer_norm.weight", [HiddenSize]));
                    list.Add(($"{block}{attention}_layer_norm.bias", [HiddenSize]));
                }
                list.Add((block + "fc1.weight", [ffn, HiddenSize]));
                list.Add((block + "fc1.bias", [ffn]));
                list.Add((block + "fc2.weight", [HiddenSize, ffn]));
                list.Add((block + "fc2.bias", [HiddenSize]));
                list.Add((block + "final_layer_norm.weight", [HiddenSize]));
                list.Add((block + "final_layer_norm.bias", [HiddenSize]));
            }
        }
        list.Add(("final_logits_bias", [1, VocabSize]));
        if (!TieWordEmbeddings)
        {
            list.Add(("lm_head.weight", [VocabSize, HiddenSize]));
        }
        return list;
    }
}

/// <summary>
/// BartForConditionalGeneration: shared token embeddings, learned positions, layernorm_embedding, post-norm
/// encoder and decoder blocks (sub-block → residual → LayerNorm, as the original Transformer), an lm_head tied to
/// the shared embeddings, plus final_logits_bias.
/// </summary>
public sealed partial class BartModel : EncoderDecoderModel
{
    private readonly Checkpoint? _checkpoint;
    private readonly TokenEmbedding _tokenEmbedding; // shared [vocab, hidden]: the tied head's rows, or its own table
    private readonly Stack _encoder;
    private readonly Stack _decoder;
    private readonly Linear _head;
    private readonly Tensor _finalLogitsBias;
    private readonly float _embeddingScale;

    private sealed record Block(MultiHeadAttention SelfAttention, LayerNorm SelfNorm, MultiHeadAttention? CrossAttention, LayerNorm? CrossNorm,
        FeedForward Mlp, LayerNorm MlpNorm);

    private sealed record Stack(Tensor Positions, LayerNorm EmbeddingNorm, Block[] Blocks, int FfnSize);

    public BartModel(BartConfig config, Func<string, int[], Tensor> weights, Checkpoint? owner = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        Config = config;
        _checkpoint = owner;
        int hidden = config.HiddenSize;
        // Tied (HF leaves lm_head.weight out of the file), the head is built first, over the embedding table, so a
        // low-precision load converts the table and drops its f32 before the blocks load; the lookup reads the head's rows.
        Linear? tiedHead = null;
        if (config.TieWordEmbeddings)
        {
            tiedHead = new Linear(weights("model.shared.weight", [config.VocabSize, hidden]), null, WeightLayout.OutputMajor);
            _tokenEmbedding = TokenEmbedding.TiedTo(tiedHead);
        }
        else
        {
            _tokenEmbedding = TokenEmbedding.Untied(weights("model.shared.weight", [config.VocabSize, hidden]));
        }
        _encoder = LoadStack(weights, "encoder", config.EncoderLayerCount, config.EncoderHeadCount, config.EncoderFfnSize, AttentionKind.Bidirectional);
        _decoder = LoadStack(weights, "decoder", config.DecoderLayerCount, config.DecoderHeadCount, config.DecoderFfnSize, AttentionKind.Causal);
        // Untied (tie_word_embeddings false), lm_head.weight has its own tensor.
        _head = tiedHead ?? new Linear(weights("lm_head.weight", [config.VocabSize, hidden]), null, WeightLayout.OutputMajor);
        // final_logits_bias: a registered buffer added to every logit row (zeros in most checkpoints, kept for fidelity).
        _finalLogitsBias = weights("final_logits_bias", [1, config.VocabSize]);
        // scale_embedding multiplies token embeddings by sqrt(d_model) (bart-large: false; some fine-tunes: true).
        _embeddingScale = config.ScaleEmbedding ? MathF.Sqrt(hidden) : 1f;
        SpecialTokens = new SpecialTokens(config.BosTokenId, [config.EosTokenId], config.PadTokenId, config.DecoderStartTokenId,
            config.ForcedBosTokenId, config.ForcedEosTokenId);
    }

    private Stack LoadStack(Func<string, int[], Tensor> weights, string side, int layers, int heads, int ffn, AttentionKind kind)
    {
        int hidden = Config.HiddenSize;
        string prefix = $"model.{side}.";
        LayerNorm Norm(string name) => new(weights(name + ".weight", [hidden]), weights(name + ".bias", [hidden]), BartConfig.LayerNormEpsilon);
        Linear Projection(string name, int output, int input) =>
            new(weights(name + ".weight", [output, input]), weights(name + ".bias", [output]), WeightLayout.OutputMajor);
        MultiHeadAttention Attention(string name, AttentionKind attentionKind) => MultiHeadAttention.WithSeparateProjections(
            Projection(name + ".q_proj", hidden, hidden), Projection(name + ".k_proj", hidden, hidden), Projection(name + ".v_proj", hidden, hidden),
            Projection(name + ".out_proj", hidden, hidden), heads, 1f / MathF.Sqrt(hidden / heads), attentionKind);
        var blocks = new Block[layers];
        for (int layer = 0; layer < layers; layer++)
        {
            string block = $"{prefix}layers.{layer}.";
            bool decoder = kind == AttentionKind.Causal;
            blocks[layer] = new Block(
                Attention(block + "self_attn", kind), Norm(block + "self_attn_layer_norm"),
                decoder ? Attention(block + "encoder_attn", AttentionKind.Bidirectional) : null, decoder ? Norm(block + "encoder_attn_layer_norm") : null,
                new FeedForward(Projection(block + "fc1", ffn, hidden), Projection(block + "fc2", hidden, ffn), Config.Activation),
                Norm(block + "final_layer_norm"));
        }
        return new Stack(weights(prefix + "embed_positions.weight", [Config.MaxPositions + BartConfig.PositionOffset, hidden]),
            Norm(prefix + "layernorm_embedding"), blocks, ffn);
    }

    public static ILanguageModel Load(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = BartConfig.FromHf(checkpoint.Config);
        var generation = checkpoint.GenerationConfig;
        if (generation is not null)
        {
            // generation_config.json wins over config.json for generation ids, as in HF.
            config = config with
            {
                EosTokenId = generation.GetIdList("eos_token_id") is { Length: > 0 } eos ? eos[0] : config.EosTokenId,
                DecoderStartTokenId = generation.GetIntOrNull("decoder_start_token_id") ?? config.DecoderStartTokenId,
                ForcedBosTokenId = generation.Has("forced_bos_token_id") ? generation.GetInt("forced_bos_token_id") : config.ForcedBosTokenId,
                ForcedEosTokenId = generation.Has("forced_eos_token_id") ? generation.GetInt("forced_eos_token_id") : config.ForcedEosTokenId,
            };
        }
        return new BartModel(config, checkpoint.Read, checkpoint);
    }

    public BartConfig Config { get; }

    public override string ModelType => "bart";

    public override int VocabSize => Config.VocabSize;

    public override int MaxPositions => Config.MaxPositions;

    public override int HiddenSize => Config.HiddenSize;

    protected override int DecoderLayerCount => Config.DecoderLayerCount;

    protected override int HeadCount => Config.DecoderHeadCount;

    protected override int HeadDim => Config.HiddenSize / Config.DecoderHeadCount;

    public override float[] Encode(ReadOnlySpan<int> inputIds, int[]? attentionMask, int batchSize, int sourceLength, List<Tensor>? hiddenStates = null)
    {
        if (sourceLength > Config.MaxPositions)
        {
            throw new ArgumentException($"an input of {sourceLength} tokens exceeds the model's {Config.MaxPositions} positions");
        }
        int rows = batchSize * sourceLength;
        var x = new float[rows * Config.HiddenSize];
        Embed(_encoder, inputIds, batchSize, sourceLength, 0, x);
        hiddenStates?.Add(Snapshot(x, batchSize, sourceLength));
        var cache = new KvCache(_encoder.Blocks.Length, batchSize, Config.EncoderHeadCount, Config.HiddenSize / Config.EncoderHeadCount, sourceLength);
        var branch = new float[x.Length];
        var workspace = new float[Math.Max(_encoder.Blocks[0].SelfAttention.WorkspaceLength(rows), 2 * rows * _encoder.FfnSize)];
        for (int layer = 0; layer < _encoder.Blocks.Length; layer++)
        {
            var block = _encoder.Blocks[layer];
            // Post-norm: x = LN(x + attention(x)); padding only masks keys.
            block.SelfAttention.Forward(x, batchSize, sourceLength, cache, layer, attentionMask, 0, branch, workspace);
            AddAndNorm(x, branch, block.SelfNorm);
            // Post-norm: x = LN(x + fc2(act(fc1(x)))).
            block.Mlp.Forward(x, rows, branch, workspace);
            AddAndNorm(x, branch, block.MlpNorm);
            hiddenStates?.Add(Snapshot(x, batchSize, sourceLength));
        }
        return x;
    }

    protected override IReadOnlyList<MultiHeadAttention> CrossAttentions => [.. _decoder.Blocks.Select(block => block.CrossAttention!)];

    protected override void DecodeCore(ReadOnlySpan<int> decoderIds, int batchSize, int tokenCount, EncoderDecoderCache cache, int[]? sourceMask,
        List<Tensor>? hiddenStates, bool lastPositionOnly, Span<float> logits)
    {
        int hidden = Config.HiddenSize;
        int rows = batchSize * tokenCount;
        var x = new float[rows * hidden];
        Embed(_decoder, decoderIds, batchSize, tokenCount, cache.Length, x);
        hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));
        var branch = new float[x.Length];
        var workspace = new float[Math.Max(_decoder.Blocks[0].SelfAttention.WorkspaceLength(rows), 2 * rows * _decoder.FfnSize)];
        for (int layer = 0; layer < _decoder.Blocks.Length; layer++)
        {
            var block = _decoder.Blocks[layer];
            block.SelfAttention.Forward(x, batchSize, tokenCount, cache.Self, layer, ReadOnlyMemory<int>.Empty, 0, branch, workspace);
            AddAndNorm(x, branch, block.SelfNorm);
            block.CrossAttention!.ForwardCross(x, batchSize, tokenCount, cache.Cross, layer, sourceMask, branch, workspace);
            AddAndNorm(x, branch, block.CrossNorm!);
            block.Mlp.Forward(x, rows, branch, workspace);
            AddAndNorm(x, branch, block.MlpNorm);
            hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));
        }
        ReadOnlySpan<float> final = x;
        int outputRows = rows;
        if (lastPositionOnly)
        {
            var last = new float[batchSize * hidden];
            for (int b = 0; b < batchSize; b++)
            {
                x.AsSpan(((b + 1) * tokenCount - 1) * hidden, hidden).CopyTo(last.AsSpan(b * hidden));
            }
            final = last;
            outputRows = batchSize;
        }
        _head.Forward(final, outputRows, logits);
        for (int row = 0; row < outputRows; row++)
        {
            var rowLogits = logits.Slice(row * VocabSize, VocabSize);
            System.Numerics.Tensors.TensorPrimitives.Add(rowLogits, _finalLogitsBias.Span, rowLogits);
        }
    }

    /// <summary>layernorm_embedding(embed_tokens(ids)·scale + embed_positions(past + t + 2)).</summary>
    private void Embed(Stack stack, ReadOnlySpan<int> ids, int batchSize, int tokenCount, int past, Span<float> x)
    {
        int hidden = Config.HiddenSize;
        _tokenEmbedding.Lookup(ids, x);
        if (_embeddingScale != 1f)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(x, _embeddingScale, x);
        }
        var positions = new int[batchSize * tokenCount];
        for (int i = 0; i < positions.Length; i++)
        {
            // Positions ignore padding (HF counts 0..len-1 per row) and start at row 2 of the table.
            positions[i] = past + i % tokenCount + BartConfig.PositionOffset;
        }
        Embedding.LookupAdd(stack.Positions.Span, hidden, positions, x);
        stack.EmbeddingNorm.Forward(x, x);
    }

    private static void AddAndNorm(Span<float> x, ReadOnlySpan<float> branch, LayerNorm norm)
    {
        System.Numerics.Tensors.TensorPrimitives.Add(x, branch[..x.Length], x);
        norm.Forward(x, x);
    }

    /// <summary>A model with random weights (N(0, 0.02), unit norms, zero biases), for benchmarks and tests without a checkpoint.</summary>
    public static BartModel CreateRandom(BartConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new BartModel(config, RandomWeights.Create(seed));
    }

    public override void Dispose() => _checkpoint?.Dispose();
}
