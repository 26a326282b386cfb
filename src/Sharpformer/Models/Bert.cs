using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>BERT hyper-parameters, read from config.json (HF BertConfig names).</summary>
public sealed record BertConfig(
    int VocabSize,
    int HiddenSize,
    int LayerCount,
    int HeadCount,
    int IntermediateSize,
    int MaxPositions = 512,
    int TypeVocabSize = 2,
    float LayerNormEpsilon = 1e-12f,
    Activation Activation = Activation.Gelu,
    int PadTokenId = 0)
{
    public int HeadDim => HiddenSize / HeadCount;

    public static BertConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int hidden = config.GetInt("hidden_size");
        int heads = config.GetInt("num_attention_heads");
        if (hidden % heads != 0)
        {
            throw new CheckpointException($"{config.Source}: hidden_size {hidden} is not divisible by num_attention_heads {heads}");
        }
        string positionType = config.GetString("position_embedding_type") ?? "absolute";
        if (positionType != "absolute")
        {
            throw new CheckpointException($"{config.Source}: position_embedding_type '{positionType}' is not supported (only 'absolute')");
        }
        return new BertConfig(
            VocabSize: config.GetInt("vocab_size"),
            HiddenSize: hidden,
            LayerCount: config.GetInt("num_hidden_layers"),
            HeadCount: heads,
            IntermediateSize: config.GetInt("intermediate_size"),
            MaxPositions: config.GetInt("max_position_embeddings", 512),
            TypeVocabSize: config.GetInt("type_vocab_size", 2),
            LayerNormEpsilon: config.GetFloat("layer_norm_eps", 1e-12f),
            Activation: ActivationNames.Parse(config.GetString("hidden_act") ?? "gelu", config.Source),
            PadTokenId: config.GetInt("pad_token_id", 0));
    }

    /// <summary>BERT-base (Devlin et al. 2018): 12 layers, 768 hidden, 12 heads, the bert-base-uncased vocabulary.</summary>
    public static BertConfig Base { get; } = new(30522, 768, 12, 12, 3072);

    /// <summary>
    /// Every tensor of the encoder (BertModel) under <paramref name="prefix"/> ("bert." in BertForMaskedLM /
    /// BertForPreTraining files, "" in a bare BertModel such as sentence-transformers saves): the names as data.
    /// </summary>
    public IReadOnlyList<(string Name, int[] Shape)> ExpectedTensors(string prefix = "bert.", bool pooler = true)
    {
        int hidden = HiddenSize;
        var list = new List<(string, int[])>
        {
            (prefix + "embeddings.word_embeddings.weight", [VocabSize, hidden]),
            (prefix + "embeddings.position_embeddings.weight", [MaxPositions, hidden]),
            (prefix + "embeddings.token_type_embeddings.weight", [TypeVocabSize, hidden]),
            (prefix + "embeddings.LayerNorm.weight", [hidden]),
            (prefix + "embeddings.LayerNorm.bias", [hidden]),
        };
        for (int layer = 0; layer < LayerCount; layer++)
        {
            string p = $"{prefix}encoder.layer.{layer}.";
            foreach (string projection in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                list.Add((p + projection + ".weight", [hidden, hidden]));
                list.Add((p + projection + ".bias", [hidden]));
            }
            list.Add((p + "attention.output.LayerNorm.weight", [hidden]));
            list.Add((p + "attention.output.LayerNorm.bias", [hidden]));
            list.Add((p + "intermediate.dense.weight", [IntermediateSize, hidden]));
            list.Add((p + "intermediate.dense.bias", [IntermediateSize]));
            list.Add((p + "output.dense.weight", [hidden, IntermediateSize]));
            list.Add((p + "output.dense.bias", [hidden]));
            list.Add((p + "output.LayerNorm.weight", [hidden]));
            list.Add((p + "output.LayerNorm.bias", [hidden]));
        }
        if (pooler)
        {
            list.Add((prefix + "pooler.dense.weight", [hidden, hidden]));
            list.Add((prefix + "pooler.dense.bias", [hidden]));
        }
        return list;
    }

    /// <summary>The masked-LM head (decoder weight tied to the word embeddings, so absent) and the NSP head.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ExpectedHeadTensors(bool nextSentence) =>
    [
        ("cls.predictions.transform.dense.weight", [HiddenSize, HiddenSize]),
        ("cls.predictions.transform.dense.bias", [HiddenSize]),
        ("cls.predictions.transform.LayerNorm.weight", [HiddenSize]),
        ("cls.predictions.transform.LayerNorm.bias", [HiddenSize]),
        ("cls.predictions.bias", [VocabSize]),
        .. nextSentence ? new (string, int[])[] { ("cls.seq_relationship.weight", [2, HiddenSize]), ("cls.seq_relationship.bias", [2]) } : [],
    ];
}

/// <summary>
/// What the encoder returns: last_hidden_state [batch, tokens, hidden], pooler_output [batch, hidden] (null when
/// the checkpoint has no pooler) and, on request, hidden states in HF order (embeddings output, then each layer).
/// </summary>
public sealed record BertOutput(Tensor LastHiddenState, Tensor? PoolerOutput, IReadOnlyList<Tensor>? HiddenStates);

/// <summary>
/// BertModel: word + position + token-type embeddings under a LayerNorm, then post-norm blocks
/// (x = LN(x + Attention(x)); x = LN(x + FFN(x))) with bidirectional attention, and a tanh pooler over [CLS].
/// </summary>
public sealed partial class BertModel
{
    private TokenEmbedding _wordEmbedding;       // [vocab, hidden]: its own table, or the tied masked-LM decoder's rows
    private readonly Tensor _positionEmbedding;  // [positions, hidden]
    private readonly Tensor _tokenTypeEmbedding; // [types, hidden]
    private readonly LayerNorm _embeddingNorm;
    private readonly Block[] _blocks;
    private readonly Linear? _pooler;            // [hidden, hidden], nn.Linear layout

    private sealed record Block(MultiHeadAttention Attention, LayerNorm AttentionNorm, FeedForward Mlp, LayerNorm MlpNorm);

    /// <summary>Builds the encoder from <paramref name="weights"/> named under <paramref name="prefix"/>.</summary>
    public BertModel(BertConfig config, Func<string, int[], Tensor> weights, string prefix = "bert.", bool pooler = true)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        Config = config;
        int hidden = config.HiddenSize;
        Tensor Weight(string name, params int[] shape) => weights(prefix + name, shape);
        Linear Dense(string name, int outFeatures, int inFeatures) =>
            new(Weight(name + ".weight", outFeatures, inFeatures), Weight(name + ".bias", outFeatures), WeightLayout.OutputMajor);
        LayerNorm Norm(string name) => new(Weight(name + ".weight", hidden), Weight(name + ".bias", hidden), config.LayerNormEpsilon);

        _wordEmbedding = TokenEmbedding.Untied(Weight("embeddings.word_embeddings.weight", config.VocabSize, hidden));
        _positionEmbedding = Weight("embeddings.position_embeddings.weight", config.MaxPositions, hidden);
        _tokenTypeEmbedding = Weight("embeddings.token_type_embeddings.weight", config.TypeVocabSize, hidden);
        _embeddingNorm = Norm("embeddings.LayerNorm");
        _blocks = new Block[config.LayerCount];
        for (int layer = 0; layer < config.LayerCount; layer++)
        {
            string p = $"encoder.layer.{layer}.";
            // Same attention layer as GPT-2; only the mask differs (every token sees every unpadded token).
            var attention = MultiHeadAttention.WithSeparateProjections(
                Dense(p + "attention.self.query", hidden, hidden), Dense(p + "attention.self.key", hidden, hidden),
                Dense(p + "attention.self.value", hidden, hidden), Dense(p + "attention.output.dense", hidden, hidden),
                config.HeadCount, 1f / MathF.Sqrt(config.HeadDim), AttentionKind.Bidirectional);
            var mlp = new FeedForward(Dense(p + "intermediate.dense", config.IntermediateSize, hidden),
                Dense(p + "output.dense", hidden, config.IntermediateSize), config.Activation);
            _blocks[layer] = new Block(attention, Norm(p + "attention.output.LayerNorm"), mlp, Norm(p + "output.LayerNorm"));
        }
        _pooler = pooler ? Dense("pooler.dense", hidden, hidden) : null;
    }

    public BertConfig Config { get; }

    /// <summary>
    /// The word embeddings, [vocab, hidden], float32: the masked-LM decoder is tied to them. Throws once a bf16/int8
    /// load released them (the lookup then reads the decoder's copy).
    /// </summary>
    public Tensor WordEmbedding => _wordEmbedding.Table;

    /// <summary>Makes the word-embedding lookup read <paramref name="decoder"/>'s rows (built over <see cref="WordEmbedding"/>).</summary>
    internal void TieWordEmbedding(Linear decoder) => _wordEmbedding = TokenEmbedding.TiedTo(decoder);

    public bool HasPooler => _pooler is not null;

    /// <summary>
    /// Encodes <paramref name="batchSize"/> rows of <paramref name="tokenCount"/> ids.
    /// <paramref name="tokenTypeIds"/>: [batch, tokens], segment A = 0 and B = 1 (null = all 0, as HF).
    /// <paramref name="attentionMask"/>: [batch, tokens], 1 = token, 0 = padding (null = no padding).
    /// </summary>
    public BertOutput Forward(int[] inputIds, int batchSize, int tokenCount, int[]? tokenTypeIds = null, int[]? attentionMask = null,
        bool outputHiddenStates = false)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        if (batchSize <= 0 || tokenCount <= 0 || inputIds.Length != batchSize * tokenCount)
        {
            throw new ArgumentException($"input ids hold {inputIds.Length} values; expected batch {batchSize} × {tokenCount} tokens (both > 0)");
        }
        if (tokenCount > Config.MaxPositions)
        {
            throw new ArgumentException($"{tokenCount} tokens exceed the model's {Config.MaxPositions} positions");
        }
        CheckIds(inputIds, Config.VocabSize, "token id", "vocabulary");
        if (tokenTypeIds is not null)
        {
            if (tokenTypeIds.Length != inputIds.Length)
            {
                throw new ArgumentException($"token type ids hold {tokenTypeIds.Length} values; expected {inputIds.Length}");
            }
            CheckIds(tokenTypeIds, Config.TypeVocabSize, "token type id", "token types");
        }
        if (attentionMask is not null && attentionMask.Length != inputIds.Length)
        {
            throw new ArgumentException($"attention mask holds {attentionMask.Length} values; expected batch {batchSize} × {tokenCount}");
        }

        int hidden = Config.HiddenSize;
        int rows = batchSize * tokenCount;
        var x = new float[rows * hidden];
        var branch = new float[rows * hidden];
        var workspace = new float[Math.Max(_blocks.Length > 0 ? _blocks[0].Attention.WorkspaceLength(rows) : 0, 2 * rows * Config.IntermediateSize)];
        var hiddenStates = outputHiddenStates ? new List<Tensor>() : null;

        // Embeddings: word + absolute position + token type, then LayerNorm (no norm on the way out: post-norm).
        var positions = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            positions[i] = i % tokenCount;
        }
        _wordEmbedding.Lookup(inputIds, x);
        Embedding.LookupAdd(_positionEmbedding.Span, hidden, positions, x);
        Embedding.LookupAdd(_tokenTypeEmbedding.Span, hidden, tokenTypeIds ?? new int[rows], x);
        _embeddingNorm.Forward(x, x);
        hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));

        // Bidirectional attention needs all keys before any query: a cache sized to this call holds them.
        var cache = new KvCache(Math.Max(1, Config.LayerCount), batchSize, Config.HeadCount, Config.HeadDim, tokenCount);
        ReadOnlyMemory<int> mask = attentionMask ?? ReadOnlyMemory<int>.Empty;
        for (int layer = 0; layer < _blocks.Length; layer++)
        {
            var block = _blocks[layer];
            // Post-norm attention: the residual sum is normalised (BERT/BART), unlike GPT-2's pre-norm.
            block.Attention.Forward(x, batchSize, tokenCount, cache, layer, mask, 0, branch, workspace);
            TensorPrimitives.Add(x, branch, x);
            block.AttentionNorm.Forward(x, x);
            // Post-norm feed-forward.
            block.Mlp.Forward(x, rows, branch, workspace);
            TensorPrimitives.Add(x, branch, x);
            block.MlpNorm.Forward(x, x);
            hiddenStates?.Add(Snapshot(x, batchSize, tokenCount));
        }

        var last = new Tensor(x, batchSize, tokenCount, hidden);
        return new BertOutput(last, _pooler is null ? null : Pool(last), hiddenStates);
    }

    /// <summary>pooler_output = tanh(dense(h[:, 0])): the [CLS] position of each row.</summary>
    private Tensor Pool(Tensor lastHiddenState)
    {
        int batchSize = lastHiddenState.Shape[0], tokenCount = lastHiddenState.Shape[1], hidden = Config.HiddenSize;
        var first = new float[batchSize * hidden];
        for (int b = 0; b < batchSize; b++)
        {
            lastHiddenState.Span.Slice(b * tokenCount * hidden, hidden).CopyTo(first.AsSpan(b * hidden));
        }
        var pooled = new float[batchSize * hidden];
        _pooler!.Forward(first, batchSize, pooled);
        TensorPrimitives.Tanh(pooled, pooled);
        return new Tensor(pooled, batchSize, hidden);
    }

    private static void CheckIds(ReadOnlySpan<int> ids, int count, string what, string range)
    {
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)count)
            {
                throw new ArgumentException($"{what} {id} is outside the model's {count} {range}");
            }
        }
    }

    private Tensor Snapshot(ReadOnlySpan<float> x, int batchSize, int tokenCount) =>
        new(x.ToArray(), batchSize, tokenCount, Config.HiddenSize);

    /// <summary>A model with random weights (N(0, 0.02), unit norms, zero biases), for benchmarks and tests.</summary>
    public static BertModel CreateRandom(BertConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new BertModel(config, RandomWeights.Create(seed));
    }
}

/// <summary>What the masked-LM model returns: prediction logits [batch, tokens, vocab], NSP logits [batch, 2] when present.</summary>
public sealed record MaskedLMOutput(Tensor Logits, Tensor? NextSentenceLogits, BertOutput Encoder);

/// <summary>
/// BertForMaskedLM (and BertForPreTraining, whose NSP head is used when the checkpoint has it): the encoder, then
/// the prediction head dense → act → LayerNorm → word embeddingsᵀ + bias. A checkpoint without the head (a bare
/// BertModel, as sentence-transformers saves) loads as an encoder only, for embeddings.
/// Implements <see cref="ILanguageModel"/> so the registry can load it; it cannot generate.
/// </summary>
public sealed partial class BertForMaskedLM : ILanguageModel
{
    private readonly Checkpoint? _checkpoint;
    private readonly Linear? _transform;         // cls.predictions.transform.dense [hidden, hidden]
    private readonly LayerNorm? _transformNorm;
    private readonly Linear? _decoder;           // tied to word embeddings [vocab, hidden], bias cls.predictions.bias
    private readonly Linear? _nextSentence;      // cls.seq_relationship [2, hidden]

    public BertForMaskedLM(BertModel encoder, Func<string, int[], Tensor>? heads, bool nextSentence, Checkpoint? owner = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        Encoder = encoder;
        _checkpoint = owner;
        var config = encoder.Config;
        int hidden = config.HiddenSize;
        if (heads is not null)
        {
            _transform = new Linear(heads("cls.predictions.transform.dense.weight", [hidden, hidden]),
                heads("cls.predictions.transform.dense.bias", [hidden]), WeightLayout.OutputMajor);
            _transformNorm = new LayerNorm(heads("cls.predictions.transform.LayerNorm.weight", [hidden]),
                heads("cls.predictions.transform.LayerNorm.bias", [hidden]), config.LayerNormEpsilon);
            // The decoder weight is tied to the word embeddings; HF keeps only cls.predictions.bias in the file.
            _decoder = new Linear(encoder.WordEmbedding, heads("cls.predictions.bias", [config.VocabSize]), WeightLayout.OutputMajor);
            // The lookup reads the decoder's rows: its bf16/int8 copy in a low-precision load, which dropped the f32 table.
            encoder.TieWordEmbedding(_decoder);
            if (nextSentence)
            {
                _nextSentence = new Linear(heads("cls.seq_relationship.weight", [2, hidden]), heads("cls.seq_relationship.bias", [2]),
                    WeightLayout.OutputMajor);
            }
        }
        SpecialTokens = new SpecialTokens(-1, [], config.PadTokenId);
    }

    /// <summary>
    /// Loads a BERT checkpoint: BertForPreTraining / BertForMaskedLM ("bert." names and cls.* heads) or a bare
    /// BertModel (unprefixed names, no heads; only <see cref="Encode"/> works then).
    /// </summary>
    public static BertForMaskedLM Load(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = BertConfig.FromHf(checkpoint.Config);
        string prefix = checkpoint.Contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        if (!checkpoint.Contains(prefix + "embeddings.word_embeddings.weight"))
        {
            throw new CheckpointException($"{checkpoint.Directory}: no BERT word embeddings (looked for bert.embeddings.word_embeddings.weight and embeddings.word_embeddings.weight)");
        }
        var encoder = new BertModel(config, checkpoint.Read, prefix, pooler: checkpoint.Contains(prefix + "pooler.dense.weight"));
        bool hasHead = checkpoint.Contains("cls.predictions.bias");
        return new BertForMaskedLM(encoder, hasHead ? checkpoint.Read : null, checkpoint.Contains("cls.seq_relationship.weight"), checkpoint);
    }

    /// <summary>Loads a folder (or cached model id) holding a BERT checkpoint.</summary>
    public static BertForMaskedLM Load(string folderOrModelId)
    {
        var checkpoint = Checkpoint.Open(folderOrModelId);
        try
        {
            return Load(checkpoint);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Imports a BertModel exported to ONNX by PyTorch (e.g. all-MiniLM-L6-v2): named initializers keep their HF
    /// names, and each anonymous MatMul weight is named after the bias its output is added to. The ONNX file has no
    /// config, so <paramref name="config"/> gives the hyper-parameters (head count, epsilon, activation).
    /// </summary>
    public static BertForMaskedLM FromOnnx(OnnxFile onnx, BertConfig config, string source = "ONNX model")
    {
        ArgumentNullException.ThrowIfNull(config);
        var weights = RecoverOnnxWeights(onnx);
        string prefix = weights.ContainsKey("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        Tensor Read(string name, int[] shape)
        {
            if (!weights.TryGetValue(name, out var tensor))
            {
                throw new CheckpointException($"{source}: no initializer for '{name}' (named, or recovered from a MatMul + bias Add)");
            }
            if (!tensor.Shape.AsSpan().SequenceEqual(shape))
            {
                throw new CheckpointException($"{source}: '{name}' is {Tensor.FormatShape(tensor.Shape)}, expected {Tensor.FormatShape(shape)}");
            }
            return tensor;
        }
        var encoder = new BertModel(config, Read, prefix, pooler: weights.ContainsKey(prefix + "pooler.dense.weight"));
        return new BertForMaskedLM(encoder, null, nextSentence: false);
    }

    /// <summary>
    /// The ONNX file's float initializers under their HF names: anonymous MatMul weights are named after the bias
    /// added to their output ("….query.bias" names "….query.weight") and transposed back to nn.Linear's [out, in].
    /// </summary>
    public static Dictionary<string, Tensor> RecoverOnnxWeights(OnnxFile onnx)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        var weights = new Dictionary<string, Tensor>(onnx.Initializers, StringComparer.Ordinal);
        var addsByInput = onnx.Nodes.Where(node => node.OpType == "Add").SelectMany(node => node.Inputs.Select(input => (input, node)))
            .GroupBy(pair => pair.input).ToDictionary(group => group.Key, group => group.First().node, StringComparer.Ordinal);
        foreach (var matMul in onnx.Nodes.Where(node => node.OpType == "MatMul" && node.Inputs.Length == 2))
        {
            if (!onnx.Initializers.TryGetValue(matMul.Inputs[1], out var weight) || weight.Rank != 2
                || !addsByInput.TryGetValue(matMul.Outputs[0], out var add))
            {
                continue;
            }
            string? bias = add.Inputs.FirstOrDefault(input => input.EndsWith(".bias", StringComparison.Ordinal) && onnx.Initializers.ContainsKey(input));
            if (bias is not null)
            {
                // torch.onnx stores x @ Wᵀ as MatMul(x, Wᵀ): the [in, out] transpose of nn.Linear's [out, in].
                weights.Remove(matMul.Inputs[1]);
                weights[bias[..^".bias".Length] + ".weight"] = Transpose(weight);
            }
        }
        return weights;
    }

    private static Tensor Transpose(Tensor matrix)
    {
        int rows = matrix.Shape[0], columns = matrix.Shape[1];
        var source = matrix.Span;
        var result = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                result[c * rows + r] = source[r * columns + c];
            }
        }
        return new Tensor(result, columns, rows);
    }

    public BertModel Encoder { get; }

    public BertConfig Config => Encoder.Config;

    public bool HasMaskedLMHead => _decoder is not null;

    public bool HasNextSentenceHead => _nextSentence is not null;

    public string ModelType => "bert";

    public int VocabSize => Config.VocabSize;

    public int MaxPositions => Config.MaxPositions;

    public bool IsEncoderDecoder => false;

    public SpecialTokens SpecialTokens { get; }

    /// <summary>The encoder alone (BertModel): hidden states and pooler output.</summary>
    public BertOutput Encode(int[] inputIds, int batchSize, int tokenCount, int[]? tokenTypeIds = null, int[]? attentionMask = null,
        bool outputHiddenStates = false) =>
        Encoder.Forward(inputIds, batchSize, tokenCount, tokenTypeIds, attentionMask, outputHiddenStates);

    /// <summary>Encoder, then the prediction head over every position (and the NSP head when the checkpoint has one).</summary>
    public MaskedLMOutput Forward(int[] inputIds, int batchSize, int tokenCount, int[]? tokenTypeIds = null, int[]? attentionMask = null,
        bool outputHiddenStates = false)
    {
        if (_decoder is null)
        {
            throw new InvalidOperationException("this BERT checkpoint has no masked-LM head (cls.predictions.*): it can embed, not fill masks");
        }
        var encoded = Encoder.Forward(inputIds, batchSize, tokenCount, tokenTypeIds, attentionMask, outputHiddenStates);
        int rows = batchSize * tokenCount, hidden = Config.HiddenSize;
        // Prediction head transform: dense → hidden_act → LayerNorm, then the tied decoder.
        var transformed = new float[rows * hidden];
        var scratch = new float[rows * hidden];
        _transform!.Forward(encoded.LastHiddenState.Span, rows, transformed);
        ActivationNames.Apply(Config.Activation, transformed, transformed, scratch);
        _transformNorm!.Forward(transformed, transformed);
        var logits = Tensor.Zeros(batchSize, tokenCount, VocabSize);
        _decoder.Forward(transformed, rows, logits.Span);

        Tensor? nextSentence = null;
        if (_nextSentence is not null && encoded.PoolerOutput is not null)
        {
            nextSentence = Tensor.Zeros(batchSize, 2);
            _nextSentence.Forward(encoded.PoolerOutput.Span, batchSize, nextSentence.Span);
        }
        return new MaskedLMOutput(logits, nextSentence, encoded);
    }

    /// <summary>BERT is a bidirectional encoder: it predicts masked tokens, not the next one.</summary>
    public IGenerationSession StartSession(PromptBatch prompts, int maxNewTokens) =>
        throw new NotSupportedException("BERT is a bidirectional encoder and cannot generate text; use fill-mask or embed");

    public void Dispose() => _checkpoint?.Dispose();
}
