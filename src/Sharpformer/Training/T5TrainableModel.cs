using Sharpformer.Autograd;
using Sharpformer.Layers;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// T5ForConditionalGeneration for training, v1.0 (ReLU, head tied to shared.weight and scaled by d_model^-0.5) and
/// v1.1 (gated GELU, separate lm_head): writable copies of the weights, and a checkpoint that HF and
/// <see cref="T5Model.Load"/> read back. <see cref="EncoderDecoderTrainableModel{TModel, TConfig, TDropout}.Model"/>
/// runs inference on the same weights.
/// </summary>
public sealed class T5TrainableModel : EncoderDecoderTrainableModel<T5Model, T5Config, T5Dropout>
{
    public T5TrainableModel(T5Config config, Func<string, int[], Tensor> weights, T5Dropout? dropout = null, ulong dropoutSeed = 0)
        : base(config, parameters => new T5Model(config, parameters.Copying(weights)), t5Config => t5Config.ExpectedTensors(),
            dropout, T5Dropout.None, dropoutSeed)
    {
    }

    /// <summary>Loads a T5 checkpoint folder (config dropout included) for training.</summary>
    public static T5TrainableModel Load(string folder, ulong dropoutSeed = 0) => TrainableParameters.Load(folder, "t5", checkpoint =>
        new T5TrainableModel(T5Config.FromHf(checkpoint.Config), checkpoint.Read, T5Dropout.FromHf(checkpoint.Config), dropoutSeed));

    /// <summary>Random weights N(0, 0.05), unit norms, as <see cref="T5Model.CreateRandom"/>.</summary>
    public static T5TrainableModel CreateRandom(T5Config config, ulong seed, T5Dropout? dropout = null) =>
        new(config, RandomWeights.Create(seed, 0.05f), dropout, seed + 1);

    protected override Variable Forward(Tape tape, TrainingBatch batch, int[] decoderIds, bool training) =>
        Model.Forward(tape, batch.InputIds, batch.AttentionMask, batch.BatchSize, batch.Length, decoderIds, batch.TargetLength, DropoutFor(training));

    /// <summary>Writes config.json (HF T5Config names) and model.safetensors (HF names, shared.weight once), each atomically.</summary>
    public override void Save(string directory) => Weights.Save(directory, "t5", "T5ForConditionalGeneration", json =>
    {
        var config = Config;
        string activation = TrainableParameters.ActivationName(config.Activation);
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("d_model", config.HiddenSize);
        json.WriteNumber("d_kv", config.KeyValueSize);
        json.WriteNumber("d_ff", config.FfnSize);
        json.WriteNumber("num_layers", config.EncoderLayerCount);
        json.WriteNumber("num_decoder_layers", config.DecoderLayerCount);
        json.WriteNumber("num_heads", config.HeadCount);
        json.WriteNumber("relative_attention_num_buckets", config.RelativeBuckets);
        json.WriteNumber("relative_attention_max_distance", config.RelativeMaxDistance);
        json.WriteNumber("layer_norm_epsilon", config.LayerNormEpsilon);
        // HF reads "gated-gelu" as gelu_new; other gated activations go through dense_act_fn.
        json.WriteString("feed_forward_proj", config.GatedFeedForward ? (config.Activation == Activation.GeluTanh ? "gated-gelu" : "gated-" + activation) : activation);
        json.WriteString("dense_act_fn", activation);
        json.WriteBoolean("is_gated_act", config.GatedFeedForward);
        json.WriteBoolean("tie_word_embeddings", config.TieWordEmbeddings);
        json.WriteBoolean("is_encoder_decoder", true);
        json.WriteNumber("n_positions", config.MaxPositions);
        json.WriteNumber("pad_token_id", config.PadTokenId);
        json.WriteNumber("eos_token_id", config.EosTokenId);
        json.WriteNumber("decoder_start_token_id", config.DecoderStartTokenId);
        json.WriteNumber("dropout_rate", Dropout.Rate);
        json.WriteNumber("initializer_factor", 1.0);
    });
}
