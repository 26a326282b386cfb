using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>
/// GPT-Neo hyper-parameters (HF GPTNeoConfig names). GPT-Neo is GPT-2's decoder with layers that alternate between
/// global (causal) and local attention over the last <see cref="WindowSize"/> tokens, the open analogue of GPT-3's
/// alternating dense and locally banded sparse attention.
/// </summary>
public sealed record GptNeoConfig(
    int VocabSize,
    int MaxPositions,
    int HiddenSize,
    int LayerCount,
    int HeadCount,
    int InnerSize,
    int WindowSize,
    IReadOnlyList<string> AttentionLayers,
    float LayerNormEpsilon = 1e-5f,
    Activation Activation = Activation.GeluTanh,
    int BosTokenId = 50256,
    int EosTokenId = 50256)
{
    public int HeadDim => HiddenSize / HeadCount;

    public static GptNeoConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int hidden = config.GetInt("hidden_size");
        int heads = config.GetInt("num_heads");
        int layers = config.GetInt("num_layers");
        if (hidden % heads != 0)
        {
            throw new CheckpointException($"{config.Source}: hidden_size {hidden} is not divisible by num_heads {heads}");
        }
        var attentionLayers = config.Has("attention_types")
            ? ExpandAttentionTypes(config.Root.GetProperty("attention_types"), config.Source)
            : config.Root.TryGetProperty("attention_layers", out var listed) ? [.. listed.EnumerateArray().Select(item => item.GetString() ?? "")] : [];
        if (attentionLayers.Count != layers)
        {
            throw new CheckpointException($"{config.Source}: attention_types expand to {attentionLayers.Count} layers, but num_layers is {layers}");
        }
        foreach (string kind in attentionLayers)
        {
            if (kind is not ("global" or "local"))
            {
                throw new CheckpointException($"{config.Source}: attention type '{kind}' is neither 'global' nor 'local'");
            }
        }
        int window = config.GetInt("window_size", 256);
        if (window <= 0 && attentionLayers.Contains("local"))
        {
            throw new CheckpointException($"{config.Source}: window_size {window} must be positive for local layers");
        }
        return new GptNeoConfig(
            VocabSize: config.GetInt("vocab_size"),
            MaxPositions: config.GetInt("max_position_embeddings", 2048),
            HiddenSize: hidden,
            LayerCount: layers,
            HeadCount: heads,
            InnerSize: config.GetIntOrNull("intermediate_size") ?? 4 * hidden,
            WindowSize: window,
            AttentionLayers: attentionLayers,
            LayerNormEpsilon: config.GetFloat("layer_norm_epsilon", 1e-5f),
            Activation: ActivationNames.Parse(config.GetString("activation_function") ?? "gelu_new", config.Source),
            BosTokenId: config.GetInt("bos_token_id", 50256),
            EosTokenId: config.GetIdList("eos_token_id").FirstOrDefault(50256));
    }

    /// <summary>HF's attention_types: a list of [[kinds...], repeat] pairs, e.g. [[["global","local"],12]] → 24 layers.</summary>
    public static IReadOnlyList<string> ExpandAttentionTypes(JsonElement attentionTypes, string source)
    {
        var layers = new List<string>();
        try
        {
            foreach (var item in attentionTypes.EnumerateArray())
            {
                var kinds = item[0].EnumerateArray().Select(kind => kind.GetString() ?? "").ToArray();
                int repeat = item[1].GetInt32();
                for (int r = 0; r < repeat; r++)
                {
                    layers.AddRange(kinds);
                }
            }
        }
        catch (Exception error) when (error is InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            throw new CheckpointException($"{source}: attention_types must be a list of [[\"global\"|\"local\", ...], repeat] pairs ({error.Message})");
        }
        return layers;
    }

    /// <summary>EleutherAI's released sizes (2048 context, window 256, alternating global/local).</summary>
    public static IReadOnlyDictionary<string, GptNeoConfig> Named { get; } = new Dictionary<string, GptNeoConfig>(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt-neo-125M"] = Size(12, 768, 12),
        ["gpt-neo-1.3B"] = Size(24, 2048, 16),
        ["gpt-neo-2.7B"] = Size(32, 2560, 20),
    };

    private static GptNeoConfig Size(int layers, int hidden, int heads) =>
        new(50257, 2048, hidden, layers, heads, 4 * hidden, 256, [.. Enumerable.Range(0, layers).Select(layer => layer % 2 == 0 ? "global" : "local")]);

    /// <summary>0 for a global layer, <see cref="WindowSize"/> for a local one.</summary>
    public int LayerWindow(int layer) => AttentionLayers[layer] == "local" ? WindowSize : 0;

    /// <summary>The decoder core's view of this config: GPT-2 shapes, no score scaling.</summary>
    public Gpt2Config ToDecoderConfig() =>
        new(VocabSize, MaxPositions, HiddenSize, LayerCount, HeadCount, InnerSize, LayerNormEpsilon, Activation,
            ScaleAttentionWeights: false, BosTokenId: BosTokenId, EosTokenId: EosTokenId);

    /// <summary>Every tensor a GPTNeoForCausalLM checkpoint holds, with its shape: the checkpoint names as data.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ExpectedTensors()
    {
        var list = new List<(string, int[])>
        {
            ("transformer.wte.weight", [VocabSize, HiddenSize]),
            ("transformer.wpe.weight", [MaxPositions, HiddenSize]),
        };
        for (int layer = 0; layer < LayerCount; layer++)
        {
            foreach (var (suffix, shape) in BlockTensors())
            {
                list.Add(($"transformer.h.{layer}.{suffix}", shape));
            }
        }
        list.Add(("transformer.ln_f.weight", [HiddenSize]));
        list.Add(("transformer.ln_f.bias", [HiddenSize]));
        return list;
    }

    /// <summary>One block's names under transformer.h.{i}: nn.Linear layouts [out, in], unlike GPT-2's Conv1D.</summary>
    private IEnumerable<(string Suffix, int[] Shape)> BlockTensors() =>
    [
        ("ln_1.weight", [HiddenSize]),
        ("ln_1.bias", [HiddenSize]),
        ("attn.attention.q_proj.weight", [HiddenSize, HiddenSize]),
        ("attn.attention.k_proj.weight", [HiddenSize, HiddenSize]),
        ("attn.attention.v_proj.weight", [HiddenSize, HiddenSize]),
        ("attn.attention.out_proj.weight", [HiddenSize, HiddenSize]),
        ("attn.attention.out_proj.bias", [HiddenSize]),
        ("ln_2.weight", [HiddenSize]),
        ("ln_2.bias", [HiddenSize]),
        ("mlp.c_fc.weight", [InnerSize, HiddenSize]),
        ("mlp.c_fc.bias", [InnerSize]),
        ("mlp.c_proj.weight", [HiddenSize, InnerSize]),
        ("mlp.c_proj.bias", [HiddenSize]),
    ];

    public long ParameterCount => ExpectedTensors().Sum(t => Tensor.ElementCount(t.Shape));
}

/// <summary>
/// GPTNeoForCausalLM on the GPT-2 decoder core (<see cref="Gpt2Model"/>): same embeddings, pre-norm blocks, ln_f and
/// tied lm_head; only the block's weights and its attention differ. Generation, sessions and batching are GPT-2's.
/// </summary>
public static class GptNeoModel
{
    public static Gpt2Model Create(GptNeoConfig config, Func<string, int[], Tensor> weights, Checkpoint? owner = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        return new Gpt2Model(config.ToDecoderConfig(), "gpt_neo", weights, owner, layer => Block(config, weights, layer));
    }

    public static ILanguageModel Load(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = GptNeoConfig.FromHf(checkpoint.Config);
        return Gpt2Model.WithGenerationConfig(Create(config, checkpoint.Read, checkpoint), checkpoint);
    }

    /// <summary>Random weights (N(0, 0.02), unit norms), for benchmarks and tests without a checkpoint.</summary>
    public static Gpt2Model CreateRandom(GptNeoConfig config, ulong seed) => Create(config, RandomWeights.Create(seed));

    private static Gpt2Model.Block Block(GptNeoConfig config, Func<string, int[], Tensor> weights, int layer)
    {
        int hidden = config.HiddenSize;
        string prefix = $"transformer.h.{layer}.";
        Tensor Weight(string name, params int[] shape) => weights(prefix + name, shape);
        // GPT-Neo: q, k, v are bias-free nn.Linear and the scores are not scaled by 1/sqrt(headDim).
        var attention = MultiHeadAttention.WithSeparateProjections(
            new Linear(Weight("attn.attention.q_proj.weight", hidden, hidden), null, WeightLayout.OutputMajor),
            new Linear(Weight("attn.attention.k_proj.weight", hidden, hidden), null, WeightLayout.OutputMajor),
            new Linear(Weight("attn.attention.v_proj.weight", hidden, hidden), null, WeightLayout.OutputMajor),
            new Linear(Weight("attn.attention.out_proj.weight", hidden, hidden), Weight("attn.attention.out_proj.bias", hidden), WeightLayout.OutputMajor),
            config.HeadCount, 1f, AttentionKind.Causal)
            // Local layers: query i sees keys i-window < j <= i, by index in the full sequence (padding included).
            .WithLocalWindow(config.LayerWindow(layer));
        var mlp = new FeedForward(
            new Linear(Weight("mlp.c_fc.weight", config.InnerSize, hidden), Weight("mlp.c_fc.bias", config.InnerSize), WeightLayout.OutputMajor),
            new Linear(Weight("mlp.c_proj.weight", hidden, config.InnerSize), Weight("mlp.c_proj.bias", hidden), WeightLayout.OutputMajor),
            config.Activation);
        return new Gpt2Model.Block(
            new LayerNorm(Weight("ln_1.weight", hidden), Weight("ln_1.bias", hidden), config.LayerNormEpsilon),
            attention,
            new LayerNorm(Weight("ln_2.weight", hidden), Weight("ln_2.bias", hidden), config.LayerNormEpsilon),
            mlp);
    }
}
