using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>T5 hyper-parameters, read from config.json (HF T5Config names).</summary>
public sealed record T5Config(
    int VocabSize,
    int HiddenSize,
    int KeyValueSize,
    int FfnSize,
    int EncoderLayerCount,
    int DecoderLayerCount,
    int HeadCount,
    int RelativeBuckets = 32,
    int RelativeMaxDistance = 128,
    float LayerNormEpsilon = 1e-6f,
    bool GatedFeedForward = false,
    Activation Activation = Activation.Relu,
    bool TieWordEmbeddings = true,
    int MaxPositions = 512,
    int PadTokenId = 0,
    int EosTokenId = 1,
    int DecoderStartTokenId = 0)
{
    public int InnerSize => HeadCount * KeyValueSize;

    public static T5Config FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        // feed_forward_proj is "relu" (v1.0) or "gated-<act>" (v1.1, Flan); HF maps "gated-gelu" to gelu_new.
        string projection = config.GetString("feed_forward_proj") ?? "relu";
        bool gated = projection.StartsWith("gated-", StringComparison.Ordinal);
        string activation = projection == "gated-gelu" ? "gelu_new" : config.GetString("dense_act_fn") ?? projection.Split('-')[^1];
        int layers = config.GetInt("num_layers");
        return new T5Config(
            VocabSize: config.GetInt("vocab_size"),
            HiddenSize: config.GetInt("d_model"),
            KeyValueSize: config.GetInt("d_kv"),
            FfnSize: config.GetInt("d_ff"),
            EncoderLayerCount: layers,
            DecoderLayerCount: config.GetIntOrNull("num_decoder_layers") ?? layers,
            HeadCount: config.GetInt("num_heads"),
            RelativeBuckets: config.GetInt("relative_attention_num_buckets", 32),
            RelativeMaxDistance: config.GetInt("relative_attention_max_distance", 128),
            LayerNormEpsilon: config.GetFloat("layer_norm_epsilon", 1e-6f),
            GatedFeedForward: gated,
            Activation: ActivationNames.Parse(activation, config.Source),
            TieWordEmbeddings: config.GetBool("tie_word_embeddings", true),
            MaxPositions: config.GetInt("n_positions", 512),
            PadTokenId: config.GetInt("pad_token_id", 0),
            EosTokenId: config.GetIdList("eos_token_id").FirstOrDefault(1),
            DecoderStartTokenId: config.GetInt("decoder_start_token_id", 0));
    }

    /// <summary>t5-small (Raffel et al. 2020): 6+6 layers, d_model 512, 8 heads of 64, d_ff 2048, 32128 tokens.</summary>
    public static T5Config Small { get; } = new(32128, 512, 64, 2048, 6, 6, 8);

    /// <summary>Every tensor a T5ForConditionalGeneration checkpoint holds, with its shape: the checkpoint names as data.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ExpectedTensors()
    {
        var list = new List<(string, int[])> { ("shared.weight", [VocabSize, HiddenSize]) };
        foreach (string side in (string[])["encoder", "decoder"])
        {
            bool decoder = side == "decoder";
            for (int layer = 0; layer < (decoder ? DecoderLayerCount : EncoderLayerCount); layer++)
            {
                string block = $"{side}.block.{layer}.layer.";
                string[] attentions = decoder ? ["0.SelfAttention", "1.EncDecAttention"] : ["0.SelfAttention"];
                foreach (string attention in attentions)
                {
                    foreach (string projection in (string[])["q", "k", "v"])
                    {
                        list.Add(($"{block}{attention}.{projection}.weight", [InnerSize, HiddenSize]));
                    }
                    list.Add(($"{block}{attention}.o.weight", [HiddenSize, InnerSize]));
                    list.Add(($"{block}{attention[0]}.layer_norm.weight", [HiddenSize]));
                }
                if (layer == 0)
                {
                    list.Add(($"{block}0.SelfAttention.relative_attention_bias.weight", [RelativeBuckets, HeadCount]));
                }
                string mlp = $"{block}{attentions.Length}.";
                foreach (string up in GatedFeedForward ? (string[])["wi_0", "wi_1"] : ["wi"])
                {
                    list.Add(($"{mlp}DenseReluDense.{up}.weight", [FfnSize, HiddenSize]));
                }
                list.Add(($"{mlp}DenseReluDense.wo.weight", [HiddenSize, FfnSize]));
                list.Add(($"{mlp}layer_norm.weight", [HiddenSize]));
            }
            list.Add(($"{side}.final_layer_norm.weight", [HiddenSize]));
        }
        if (!TieWordEmbeddings)
        {
            list.Add(("lm_head.weight", [VocabSize, HiddenSize]));
        }
        return list;
    }

    public long ParameterCount => ExpectedTensors().Sum(t => Tensor.ElementCount(t.Shape));
}

/// <summary>
/// T5ForConditionalGeneration: no absolute positions, a bucketed relative position bias added to the attention
/// scores (computed from layer 0's table and shared by every layer), pre-norm blocks with bias-free RMS norm, no
/// 1/sqrt(d) scaling, and a ReLU or gated-GELU feed-forward.
/// </summary>
public sealed partial class T5Model : EncoderDecoderModel
{
    private readonly Checkpoint? _checkpoint;
    private readonly TokenEmbedding _tokenEmbedding; // shared [vocab, hidden]: the tied head's rows, or its own table (v1.1)
    private readonly Stack _encoder;
    private readonly Stack _decoder;
    private readonly Linear _head;
    private readonly float _headInputScale;

    private sealed record Block(RmsNorm SelfNorm, MultiHeadAttention SelfAttention, RmsNorm? CrossNorm, MultiHeadAttention? CrossAttention,
        RmsNorm MlpNorm, Linear Up, Linear? Gate, Linear Down);

    private sealed record Stack(Block[] Blocks, Tensor RelativeBias, RmsNorm FinalNorm, bool Bidirectional);

    public T5Model(T5Config config, Func<string, int[], Tensor> weights, Checkpoint? owner = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        Config = config;
        _checkpoint = owner;
        // Tied (HF leaves lm_head.weight out of the file), the head is built first, over the embedding table, so a
        // low-precision load converts the table and drops its f32 before the blocks load; the lookup reads the head's rows.
        Linear? tiedHead = null;
        if (config.TieWordEmbeddings)
        {
            tiedHead = new Linear(weights("shared.weight", [config.VocabSize, config.HiddenSize]), null, WeightLayout.OutputMajor);
            _tokenEmbedding = TokenEmbedding.TiedTo(tiedHead);
        }
        else
        {
            _tokenEmbedding = TokenEmbedding.Untied(weights("shared.weight", [config.VocabSize, config.HiddenSize]));
        }
        _encoder = LoadStack(weights, "encoder", config.EncoderLayerCount, decoder: false);
        _decoder = LoadStack(weights, "decoder", config.DecoderLayerCount, decoder: true);
        _head = tiedHead ?? new Linear(weights("lm_head.weight", [config.VocabSize, config.HiddenSize]), null, WeightLayout.OutputMajor);
        // Tied embeddings: HF rescales the lm_head input by d_model^-0.5 (Mesh TensorFlow's convention); v1.1 unties and does not.
        _headInputScale = config.TieWordEmbeddings ? 1f / MathF.Sqrt(config.HiddenSize) : 1f;
        SpecialTokens = new SpecialTokens(-1, [config.EosTokenId], config.PadTokenId, config.DecoderStartTokenId);
    }

    private Stack LoadStack(Func<string, int[], Tensor> weights, string side, int layers, bool decoder)
    {
        var config = Config;
        int hidden = config.HiddenSize, inner = config.InnerSize;
        RmsNorm Norm(string name) => new(weights(name, [hidden]), config.LayerNormEpsilon);
        Linear Projection(string name, int output, int input) => new(weights(name, [output, input]), null, WeightLayout.OutputMajor);
        // T5 folds the 1/sqrt(d) into its initialisation, so attention scores are not scaled (scale 1).
        MultiHeadAttention Attention(string name, AttentionKind kind) => MultiHeadAttention.WithSeparateProjections(
            Projection(name + ".q.weight", inner, hidden), Projection(name + ".k.weight", inner, hidden), Projection(name + ".v.weight", inner, hidden),
            Projection(name + ".o.weight", hidden, inner), config.HeadCount, 1f, kind);
        var blocks = new Block[layers];
        for (int layer = 0; layer < layers; layer++)
        {
            string block = $"{side}.block.{layer}.layer.";
            string mlp = block + (decoder ? "2." : "1.") + "DenseReluDense.";
            blocks[layer] = new Block(
                Norm(block + "0.layer_norm.weight"), Attention(block + "0.SelfAttention", decoder ? AttentionKind.Causal : AttentionKind.Bidirectional),
                decoder ? Norm(block + "1.layer_norm.weight") : null, decoder ? Attention(block + "1.EncDecAttention", AttentionKind.Bidirectional) : null,
                Norm(block + (decoder ? "2." : "1.") + "layer_norm.weight"),
                Projection(mlp + (config.GatedFeedForward ? "wi_0.weight" : "wi.weight"), config.FfnSize, hidden),
                config.GatedFeedForward ? Projection(mlp + "wi_1.weight", config.FfnSize, hidden) : null,
                Projection(mlp + "wo.weight", hidden, config.FfnSize));
        }
        // Only block 0 owns relative_attention_bias; the bias it computes is passed on to every later block.
        var relativeBias = weights($"{side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight", [config.RelativeBuckets, config.HeadCount]);
        return new Stack(blocks, relativeBias, Norm($"{side}.final_layer_norm.weight"), Bidirectional: !decoder);
    }

    public static ILanguageModel Load(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = T5Config.FromHf(checkpoint.Config);
        var generation = checkpoint.GenerationConfig;
        if (generation is not null)
        {
            config = config with
            {
                EosTokenId = generation.GetIdList("eos_token_id") is { Length: > 0 } eos ? eos[0] : config.EosTokenId,
                DecoderStartTokenId = generation.GetIntOrNull("decoder_start_token_id") ?? config.DecoderStartTokenId,
                PadTokenId = generation.GetIntOrNull("pad_token_id") ?? config.PadTokenId,
            };
        }
        return new T5Model(config, checkpoint.Read, checkpoint);
    }

    /// <summary>A model with random weights (N(0, 0.05), unit norms), for benchmarks and tests without a checkpoint.</summary>
    public static T5Model CreateRandom(T5Config config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new T5Model(config, RandomWeights.Create(seed, 0.05f));
    }

    public T5Config Config { get; }

    public override string ModelType => "t5";

    public override int VocabSize => Config.VocabSize;

    public override int MaxPositions => Config.MaxPositions;

    public override int HiddenSize => Config.HiddenSize;

    protected override int DecoderLayerCount => Config.DecoderLayerCount;

    protected override int HeadCount => Config.HeadCount;

    protected override int HeadDim => Config.KeyValueSize;

    /// <summary>
    /// HF T5Attention._relative_position_bucket: relative = key position − query position. Bidirectional (encoder):
    /// half the buckets per sign; causal (decoder): only the past. Exact buckets for small distances, then
    /// logarithmic up to <paramref name="maxDistance"/>, clamped to the last bucket.
    /// </summary>
    public static int RelativePositionBucket(int relativePosition, bool bidirectional, int bucketCount, int maxDistance)
    {
        int bucket = 0;
        if (bidirectional)
        {
            bucketCount /= 2;
            bucket += relativePosition > 0 ? bucketCount : 0;
            relativePosition = Math.Abs(relativePosition);
        }
        else
        {
            relativePosition = -Math.Min(relativePosition, 0);
        }
        int maxExact = bucketCount / 2;
        if (relativePosition < maxExact)
        {
            return bucket + relativePosition;
        }
        // float32 arithmetic as torch does it, then truncation toward zero (.to(torch.long)).
        float scaled = MathF.Log(relativePosition / (float)maxExact) / (float)Math.Log(maxDistance / (double)maxExact) * (bucketCount - maxExact);
        return bucket + Math.Min(maxExact + (int)scaled, bucketCount - 1);
    }

    /// <summary>Bias [heads, queries, keys] for queries at positions queryStart.. over keys 0..keyCount-1.</summary>
    private float[] PositionBias(Stack stack, int queryStart, int queryCount, int keyCount)
    {
        int heads = Config.HeadCount;
        var table = stack.RelativeBias.Span; // [buckets, heads]
        var bias = new float[heads * queryCount * keyCount];
        for (int q = 0; q < queryCount; q++)
        {
            for (int k = 0; k < keyCount; k++)
            {
                int bucket = RelativePositionBucket(k - (queryStart + q), stack.Bidirectional, Config.RelativeBuckets, Config.RelativeMaxDistance);
                for (int h = 0; h < heads; h++)
                {
                    bias[(h * queryCount + q) * keyCount + k] = table[bucket * heads + h];
                }
            }
        }
        return bias;
    }

    public override float[] Encode(ReadOnlySpan<int> inputIds, int[]? attentionMask, int batchSize, int sourceLength, List<Tensor>? hiddenStates = null)
    {
        int rows = batchSize * sourceLength;
        // Token embeddings only: no scaling, no absolute positions.
        var x = new float[rows * Config.HiddenSize];
        _tokenEmbedding.Lookup(inputIds, x);
        var cache = new KvCache(_encoder.Blocks.Length, batchSize, Config.HeadCount, Config.KeyValueSize, sourceLength);
        var bias = PositionBias(_encoder, 0, sourceLength, sourceLength);
        RunStack(_encoder, x, batchSize, sourceLength, cache, null, attentionMask, bias, hiddenStates);
        return x;
    }

    protected override IReadOnlyList<MultiHeadAttention> CrossAttentions => [.. _decoder.Blocks.Select(block => block.CrossAttention!)];

    protected override void DecodeCore(ReadOnlySpan<int> decoderIds, int batchSize, int tokenCount, EncoderDecoderCache cache, int[]? sourceMask,
        List<Tensor>? hiddenStates, bool lastPositionOnly, Span<float> logits)
    {
        int hidden = Config.HiddenSize;
        int rows = batchSize * tokenCount;
        var x = new float[rows * hidden];
        _tokenEmbedding.Lookup(decoderIds, x);
        int past = cache.Length;
        var bias = PositionBias(_decoder, past, tokenCount, past + tokenCount);
        RunStack(_decoder, x, batchSize, tokenCount, cache.Self, cache.Cross, sourceMask, bias, hiddenStates);
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
        if (_headInputScale != 1f)
        {
            var scaled = new float[outputRows * hidden];
            System.Numerics.Tensors.TensorPrimitives.Multiply(final[..scaled.Length], _headInputScale, scaled);
            final = scaled;
        }
        _head.Forward(final, outputRows, logits);
    }

    /// <summary>
    /// Pre-norm blocks (x += attention(rms(x)), x += cross(rms(x)), x += ff(rms(x))), then the final RMS norm in place.
    /// The encoder's mask covers its own keys; the decoder's covers the cross-attention keys (its self-attention is causal only).
    /// </summary>
    private void RunStack(Stack stack, float[] x, int batchSize, int tokenCount, KvCache selfCache, KvCache? crossCache, int[]? mask,
        float[] bias, List<Tensor>? hiddenStates)
    {
        int rows = batchSize * tokenCount;
        var normed = new float[x.Length];
        var branch = new float[x.Length];
        var workspace = new float[Math.Max(stack.Blocks[0].SelfAttention.WorkspaceLength(rows), 3 * rows * Config.FfnSize)];
        hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));
        bool decoder = crossCache is not null;
        for (int layer = 0; layer < stack.Blocks.Length; layer++)
        {
            var block = stack.Blocks[layer];
            block.SelfNorm.Forward(x, normed);
            block.SelfAttention.Forward(normed, batchSize, tokenCount, selfCache, layer, decoder ? null : mask, 0, bias, branch, workspace);
            System.Numerics.Tensors.TensorPrimitives.Add(x, branch, x);
            if (decoder)
            {
                // Cross-attention has no relative bias in T5 (only the encoder padding mask).
                block.CrossNorm!.Forward(x, normed);
                block.CrossAttention!.ForwardCross(normed, batchSize, tokenCount, crossCache!, layer, mask, branch, workspace);
                System.Numerics.Tensors.TensorPrimitives.Add(x, branch, x);
            }
            block.MlpNorm.Forward(x, normed);
            FeedForward(block, normed, rows, branch, workspace);
            System.Numerics.Tensors.TensorPrimitives.Add(x, branch, x);
            if (layer < stack.Blocks.Length - 1)
            {
                hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));
            }
        }
        // HF's last hidden state (and last hidden_states entry) is after the final RMS norm.
        stack.FinalNorm.Forward(x, x);
        hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));
    }

    /// <summary>wo(act(wi(x))) for v1.0; wo(act(wi_0(x)) · wi_1(x)) for the gated v1.1 variant.</summary>
    private void FeedForward(Block block, ReadOnlySpan<float> input, int rows, Span<float> output, Span<float> workspace)
    {
        int length = rows * Config.FfnSize;
        var inner = workspace[..length];
        var scratch = workspace.Slice(length, length);
        block.Up.Forward(input, rows, inner);
        ActivationNames.Apply(Config.Activation, inner, inner, scratch);
        if (block.Gate is not null)
        {
            var linear = workspace.Slice(2 * length, length);
            block.Gate.Forward(input, rows, linear);
            System.Numerics.Tensors.TensorPrimitives.Multiply(inner, linear, inner);
        }
        block.Down.Forward(inner, rows, output);
    }

    public override void Dispose() => _checkpoint?.Dispose();
}
