using System.Text.Json;
using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// GPT2LMHeadModel for training: writable copies of the weights as <see cref="Parameter"/>s (HF names, wte once for
/// the tied head), forward + backward on a <see cref="Tape"/>, causal-LM cross-entropy with HF's shift, and a
/// checkpoint that HF and <see cref="Gpt2Model.Load"/> read back. <see cref="Model"/> runs inference on the same weights.
/// </summary>
public sealed class Gpt2TrainableModel : ITrainableModel
{
    private readonly TrainableParameters _parameters = new();
    private readonly Rng _dropoutRng;

    private readonly GptNeoConfig? _neoConfig;

    public Gpt2TrainableModel(Gpt2Config config, Func<string, int[], Tensor> weights, Gpt2Dropout? dropout = null, ulong dropoutSeed = 0)
        : this(config, null, weights, dropout, dropoutSeed)
    {
    }

    /// <summary>GPT-Neo: the same decoder with GPT-Neo blocks (local windows, unscaled scores, bias-free q/k/v).</summary>
    public Gpt2TrainableModel(GptNeoConfig config, Func<string, int[], Tensor> weights, Gpt2Dropout? dropout = null, ulong dropoutSeed = 0)
        : this(config?.ToDecoderConfig()!, config, weights, dropout, dropoutSeed)
    {
    }

    private Gpt2TrainableModel(Gpt2Config config, GptNeoConfig? neoConfig, Func<string, int[], Tensor> weights, Gpt2Dropout? dropout, ulong dropoutSeed)
    {
        ArgumentNullException.ThrowIfNull(config);
        _neoConfig = neoConfig;
        var trainable = _parameters.Copying(weights);
        Model = neoConfig is null ? new Gpt2Model(config, trainable) : GptNeoModel.Create(neoConfig, trainable);
        _parameters.SortBy((neoConfig is null ? config.ExpectedTensors() : neoConfig.ExpectedTensors()).Select(tensor => tensor.Name));
        Dropout = dropout ?? Gpt2Dropout.None;
        _dropoutRng = new Rng(dropoutSeed);
    }

    /// <summary>Loads a GPT-2 or GPT-Neo checkpoint folder (config dropouts included) for training.</summary>
    public static Gpt2TrainableModel Load(string folder, ulong dropoutSeed = 0)
    {
        using var checkpoint = Checkpoint.Open(folder);
        var config = checkpoint.Config;
        return config.ModelType switch
        {
            "gpt2" => new Gpt2TrainableModel(Gpt2Config.FromHf(config), checkpoint.Read, Gpt2Dropout.FromHf(config), dropoutSeed),
            "gpt_neo" => new Gpt2TrainableModel(GptNeoConfig.FromHf(config), checkpoint.Read, NeoDropout(config), dropoutSeed),
            _ => throw new CheckpointException($"{checkpoint.Directory}: model_type is '{config.ModelType}', not gpt2 or gpt_neo"),
        };
    }

    /// <summary>GPT-Neo's dropouts under its own config names.</summary>
    public static Gpt2Dropout NeoDropout(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new Gpt2Dropout(config.GetFloat("attention_dropout", 0f), config.GetFloat("resid_dropout", 0f), config.GetFloat("embed_dropout", 0f));
    }

    /// <summary>Random weights N(0, 0.02) with unit norms, as <see cref="Gpt2Model.CreateRandom"/>.</summary>
    public static Gpt2TrainableModel CreateRandom(Gpt2Config config, ulong seed, Gpt2Dropout? dropout = null) =>
        new(config, RandomWeights.Create(seed), dropout, seed + 1);

    /// <summary>The inference model over the same (trained) weight tensors.</summary>
    public Gpt2Model Model { get; }

    public Gpt2Config Config => Model.Config;

    public Gpt2Dropout Dropout { get; }

    public string ModelType => _neoConfig is null ? "gpt2" : "gpt_neo";

    public IReadOnlyList<Parameter> Parameters => _parameters.Parameters;

    public Rng? DropoutRng => _dropoutRng;

    public LossResult ForwardBackward(TrainingBatch batch, float gradientScale = 1f)
    {
        var tape = new Tape(_parameters.Gradients, _dropoutRng);
        var loss = Loss(tape, batch, Dropout, out var result);
        if (result.TargetCount > 0)
        {
            tape.Backward(loss, gradientScale);
        }
        return result;
    }

    public LossResult Evaluate(TrainingBatch batch)
    {
        Loss(new Tape(_parameters.Gradients), batch, Gpt2Dropout.None, out var result);
        return result;
    }

    /// <summary>Logits [batch·length, vocab] of a batch with dropout off (what <see cref="Evaluate"/> scores).</summary>
    public float[] Logits(TrainingBatch batch)
    {
        Check(batch);
        return Model.Forward(new Tape(_parameters.Gradients), batch.InputIds, batch.BatchSize, batch.Length, batch.LayerMasks(), Gpt2Dropout.None).Value;
    }

    private Variable Loss(Tape tape, TrainingBatch batch, Gpt2Dropout dropout, out LossResult result)
    {
        Check(batch);
        var logits = Model.Forward(tape, batch.InputIds, batch.BatchSize, batch.Length, batch.LayerMasks(), dropout);
        var loss = tape.CrossEntropy(logits, Targets(batch), Config.VocabSize, TrainingBatch.IgnoreIndex, out int count, out double mean);
        result = new LossResult(mean, count);
        return loss;
    }

    /// <summary>Next-token targets per position: HF's shift (logits[:, :-1] against labels[:, 1:]) or the labels as given.</summary>
    internal static int[] Targets(TrainingBatch batch)
    {
        if (!batch.ShiftLabels)
        {
            return batch.Labels;
        }
        int length = batch.Length;
        var targets = new int[batch.Labels.Length];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = i % length == length - 1 ? TrainingBatch.IgnoreIndex : batch.Labels[i + 1];
        }
        return targets;
    }

    internal static void Check(TrainingBatch batch) => TrainingBatch.CheckTokenRows(batch, "GPT-2 is decoder-only");

    /// <summary>Writes config.json (HF GPT2Config or GPTNeoConfig names) and model.safetensors (HF names, wte once), each atomically.</summary>
    public void Save(string directory)
    {
        if (_neoConfig is null)
        {
            _parameters.Save(directory, "gpt2", "GPT2LMHeadModel", WriteGpt2Config);
        }
        else
        {
            _parameters.Save(directory, "gpt_neo", "GPTNeoForCausalLM", json => WriteNeoConfig(json, _neoConfig));
        }
    }

    // HF GPTNeoConfig names; attention_types as one run of the per-layer kinds.
    private void WriteNeoConfig(Utf8JsonWriter json, GptNeoConfig config)
    {
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("max_position_embeddings", config.MaxPositions);
        json.WriteNumber("hidden_size", config.HiddenSize);
        json.WriteNumber("num_layers", config.LayerCount);
        json.WriteNumber("num_heads", config.HeadCount);
        json.WriteNumber("intermediate_size", config.InnerSize);
        json.WriteNumber("window_size", config.WindowSize);
        json.WriteStartArray("attention_types");
        json.WriteStartArray();
        json.WriteStartArray();
        foreach (string kind in config.AttentionLayers)
        {
            json.WriteStringValue(kind);
        }
        json.WriteEndArray();
        json.WriteNumberValue(1);
        json.WriteEndArray();
        json.WriteEndArray();
        json.WriteString("activation_function", TrainableParameters.ActivationName(config.Activation));
        json.WriteNumber("layer_norm_epsilon", config.LayerNormEpsilon);
        json.WriteNumber("bos_token_id", config.BosTokenId);
        json.WriteNumber("eos_token_id", config.EosTokenId);
        json.WriteNumber("attention_dropout", Dropout.Attention);
        json.WriteNumber("resid_dropout", Dropout.Residual);
        json.WriteNumber("embed_dropout", Dropout.Embedding);
        json.WriteNumber("initializer_range", 0.02);
    }

    private void WriteGpt2Config(Utf8JsonWriter json)
    {
        var config = Config;
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("n_positions", config.MaxPositions);
        json.WriteNumber("n_ctx", config.MaxPositions);
        json.WriteNumber("n_embd", config.HiddenSize);
        json.WriteNumber("n_layer", config.LayerCount);
        json.WriteNumber("n_head", config.HeadCount);
        json.WriteNumber("n_inner", config.InnerSize);
        json.WriteString("activation_function", TrainableParameters.ActivationName(config.Activation));
        json.WriteNumber("layer_norm_epsilon", config.LayerNormEpsilon);
        json.WriteBoolean("scale_attn_weights", config.ScaleAttentionWeights);
        json.WriteBoolean("scale_attn_by_inverse_layer_idx", config.ScaleAttentionByInverseLayerIndex);
        json.WriteBoolean("tie_word_embeddings", config.TieWordEmbeddings);
        json.WriteNumber("bos_token_id", config.BosTokenId);
        json.WriteNumber("eos_token_id", config.EosTokenId);
        json.WriteNumber("attn_pdrop", Dropout.Attention);
        json.WriteNumber("resid_pdrop", Dropout.Residual);
        json.WriteNumber("embd_pdrop", Dropout.Embedding);
        json.WriteNumber("initializer_range", 0.02);
    }
}
