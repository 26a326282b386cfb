using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Layers;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// BartForConditionalGeneration for training: writable copies of the weights (model.shared once for both embeddings
/// and the tied head; final_logits_bias a saved buffer without gradient), and a checkpoint that HF and
/// <see cref="BartModel.Load"/> read back. <see cref="Model"/> runs inference on the same weights.
/// </summary>
public sealed class BartTrainableModel : EncoderDecoderTrainableModel
{
    public BartTrainableModel(BartConfig config, Func<string, int[], Tensor> weights, BartDropout? dropout = null, ulong dropoutSeed = 0)
        : base(dropoutSeed)
    {
        ArgumentNullException.ThrowIfNull(config);
        Model = new BartModel(config, Weights.Copying(weights, frozen: name => name == "final_logits_bias"));
        Weights.SortBy(config.ExpectedTensors().Select(t => t.Name));
        Dropout = dropout ?? BartDropout.None;
    }

    /// <summary>Loads a BART checkpoint folder (config dropouts included) for training.</summary>
    public static BartTrainableModel Load(string folder, ulong dropoutSeed = 0)
    {
        using var checkpoint = Checkpoint.Open(folder);
        if (checkpoint.Config.ModelType != "bart")
        {
            throw new CheckpointException($"{checkpoint.Directory}: model_type is '{checkpoint.Config.ModelType}', not bart");
        }
        return new BartTrainableModel(BartConfig.FromHf(checkpoint.Config), checkpoint.Read, BartDropout.FromHf(checkpoint.Config), dropoutSeed);
    }

    /// <summary>Random weights N(0, 0.02), unit norms, zero biases.</summary>
    public static BartTrainableModel CreateRandom(BartConfig config, ulong seed, BartDropout? dropout = null) =>
        new(config, RandomWeights.Create(seed), dropout, seed + 1);

    /// <summary>The inference model over the same (trained) weight tensors.</summary>
    public BartModel Model { get; }

    public BartConfig Config => Model.Config;

    public BartDropout Dropout { get; }

    public override string ModelType => "bart";

    public override int VocabSize => Config.VocabSize;

    public override int PadTokenId => Config.PadTokenId;

    public override int DecoderStartTokenId => Config.DecoderStartTokenId;

    protected override Variable Forward(Tape tape, TrainingBatch batch, int[] decoderIds, bool training) =>
        Model.Forward(tape, batch.InputIds, batch.AttentionMask, batch.BatchSize, batch.Length, decoderIds, batch.TargetLength,
            training ? Dropout : BartDropout.None);

    /// <summary>Writes config.json (HF BartConfig names) and model.safetensors (HF names, the shared embedding once), each atomically.</summary>
    public override void Save(string directory)
    {
        var config = Config;
        Weights.Save(directory, TrainableParameters.JsonObject(json =>
        {
            json.WriteString("model_type", "bart");
            json.WriteStartArray("architectures");
            json.WriteStringValue("BartForConditionalGeneration");
            json.WriteEndArray();
            json.WriteNumber("vocab_size", config.VocabSize);
            json.WriteNumber("max_position_embeddings", config.MaxPositions);
            json.WriteNumber("d_model", config.HiddenSize);
            json.WriteNumber("encoder_layers", config.EncoderLayerCount);
            json.WriteNumber("decoder_layers", config.DecoderLayerCount);
            json.WriteNumber("num_hidden_layers", config.EncoderLayerCount);
            json.WriteNumber("encoder_attention_heads", config.EncoderHeadCount);
            json.WriteNumber("decoder_attention_heads", config.DecoderHeadCount);
            json.WriteNumber("encoder_ffn_dim", config.EncoderFfnSize);
            json.WriteNumber("decoder_ffn_dim", config.DecoderFfnSize);
            json.WriteString("activation_function", TrainableParameters.ActivationName(config.Activation));
            json.WriteBoolean("scale_embedding", config.ScaleEmbedding);
            json.WriteBoolean("tie_word_embeddings", config.TieWordEmbeddings);
            json.WriteBoolean("is_encoder_decoder", true);
            json.WriteNumber("bos_token_id", config.BosTokenId);
            json.WriteNumber("pad_token_id", config.PadTokenId);
            json.WriteNumber("eos_token_id", config.EosTokenId);
            json.WriteNumber("decoder_start_token_id", config.DecoderStartTokenId);
            WriteOptionalId(json, "forced_bos_token_id", config.ForcedBosTokenId);
            WriteOptionalId(json, "forced_eos_token_id", config.ForcedEosTokenId);
            json.WriteNumber("dropout", Dropout.Hidden);
            json.WriteNumber("attention_dropout", Dropout.Attention);
            json.WriteNumber("activation_dropout", Dropout.Activation);
            json.WriteNumber("init_std", 0.02);
            json.WriteString("torch_dtype", "float32");
        }));
    }

    private static void WriteOptionalId(System.Text.Json.Utf8JsonWriter json, string name, int id)
    {
        if (id < 0)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteNumber(name, id);
        }
    }
}
