using System.Text.Json;
using Sharpformer.Autograd;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// BartForConditionalGeneration for training: writable copies of the weights (model.shared once for both embeddings
/// and the tied head; final_logits_bias a saved buffer without gradient), and a checkpoint that HF and
/// <see cref="BartModel.Load"/> read back. <see cref="EncoderDecoderTrainableModel{TModel, TConfig, TDropout}.Model"/>
/// runs inference on the same weights.
/// </summary>
public sealed class BartTrainableModel : EncoderDecoderTrainableModel<BartModel, BartConfig, BartDropout>
{
    public BartTrainableModel(BartConfig config, Func<string, int[], Tensor> weights, BartDropout? dropout = null, ulong dropoutSeed = 0)
        : base(config,
            // BART quirk: final_logits_bias is a buffer HF saves but never trains.
            parameters => new BartModel(config, parameters.Copying(weights, frozen: name => name == "final_logits_bias")),
            bartConfig => bartConfig.ExpectedTensors(), dropout, BartDropout.None, dropoutSeed)
    {
    }

    /// <summary>Loads a BART checkpoint folder (config dropouts included) for training.</summary>
    public static BartTrainableModel Load(string folder, ulong dropoutSeed = 0) => TrainableParameters.Load(folder, "bart", checkpoint =>
        new BartTrainableModel(BartConfig.FromHf(checkpoint.Config), checkpoint.Read, BartDropout.FromHf(checkpoint.Config), dropoutSeed));

    /// <summary>Random weights N(0, 0.02), unit norms, zero biases.</summary>
    public static BartTrainableModel CreateRandom(BartConfig config, ulong seed, BartDropout? dropout = null) =>
        new(config, RandomWeights.Create(seed), dropout, seed + 1);

    protected override Variable Forward(Tape tape, TrainingBatch batch, int[] decoderIds, bool training) =>
        Model.Forward(tape, batch.InputIds, batch.AttentionMask, batch.BatchSize, batch.Length, decoderIds, batch.TargetLength, DropoutFor(training));

    /// <summary>Writes config.json (HF BartConfig names) and model.safetensors (HF names, the shared embedding once), each atomically.</summary>
    public override void Save(string directory) => Weights.Save(directory, "bart", "BartForConditionalGeneration", json =>
    {
        var config = Config;
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
    });

    private static void WriteOptionalId(Utf8JsonWriter json, string name, int id)
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
