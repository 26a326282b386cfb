using Sharpformer.Autograd;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// XLNetLMHeadModel for training: writable copies of the weights (HF names; the head tied to word_embedding), the
/// two-stream forward + backward on a <see cref="Tape"/>, and HF's loss with labels: cross-entropy of the query
/// stream's logits against labels [batch, PredictCount] when a target mapping is given, else of the content stream's
/// against labels [batch, length] (no shift). No dropout. <see cref="Model"/> runs inference on the same weights.
/// </summary>
public sealed class XLNetTrainableModel : ITrainableModel
{
    private readonly TrainableParameters _parameters = new();

    public XLNetTrainableModel(XLNetConfig config, Func<string, int[], Tensor> weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        // Norms, biases, r_*_bias, seg_embed and mask_emb are kept from decay, as HF's no_decay list does for biases.
        Model = new XLNetModel(config, _parameters.Copying(weights,
            spareFromDecay: name => name.Contains("seg_embed", StringComparison.Ordinal) || name.Contains("mask_emb", StringComparison.Ordinal)));
        // The layers read reshaped views ([hidden, heads, headDim] as [hidden, inner]): same memory, same gradient.
        foreach (var (view, source) in Model.ReshapedWeights)
        {
            _parameters.ShareGradient(view, source);
        }
        _parameters.SortBy(config.ExpectedTensors().Select(tensor => tensor.Name));
    }

    public static XLNetTrainableModel Load(string folder) =>
        TrainableParameters.Load(folder, "xlnet", checkpoint => new XLNetTrainableModel(XLNetConfig.FromHf(checkpoint.Config), checkpoint.Read));

    /// <summary>Random weights N(0, 0.02), unit norms, zero biases (r_w/r_r/r_s biases included).</summary>
    public static XLNetTrainableModel CreateRandom(XLNetConfig config, ulong seed) => new(config, RandomWeights.Create(seed));

    public XLNetModel Model { get; }

    public XLNetConfig Config => Model.Config;

    public string ModelType => "xlnet";

    public IReadOnlyList<Parameter> Parameters => _parameters.Parameters;

    public LossResult ForwardBackward(TrainingBatch batch, float gradientScale = 1f)
    {
        var tape = new Tape(_parameters.Gradients);
        var loss = Loss(tape, batch, out var result);
        if (result.TargetCount > 0)
        {
            tape.Backward(loss, gradientScale);
        }
        return result;
    }

    public LossResult Evaluate(TrainingBatch batch)
    {
        Loss(new Tape(_parameters.Gradients), batch, out var result);
        return result;
    }

    /// <summary>Logits [batch·(PredictCount or length), vocab] of a batch (what <see cref="Evaluate"/> scores).</summary>
    public float[] Logits(TrainingBatch batch) => Forward(new Tape(_parameters.Gradients), batch).Value;

    private Variable Forward(Tape tape, TrainingBatch batch)
    {
        Check(batch);
        return Model.Forward(tape, batch.InputIds, batch.BatchSize, batch.Length, batch.PermutationMask, batch.TargetMapping,
            batch.TargetMapping is null ? 0 : batch.PredictCount, batch.TokenTypeIds, batch.AttentionMask);
    }

    private Variable Loss(Tape tape, TrainingBatch batch, out LossResult result)
    {
        var logits = Forward(tape, batch);
        var loss = tape.CrossEntropy(logits, batch.Labels, Config.VocabSize, TrainingBatch.IgnoreIndex, out int count, out double mean);
        result = new LossResult(mean, count);
        return loss;
    }

    private static void Check(TrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.TargetLength != 0 || batch.DecoderInputIds is not null || batch.Visibility is not null)
        {
            throw new ArgumentException("XLNet takes perm_mask and target_mapping: the batch must not carry decoder inputs, target lengths or a visibility matrix");
        }
        int rows = batch.TargetMapping is null ? batch.Length : batch.PredictCount;
        if (batch.Labels.Length != batch.BatchSize * rows)
        {
            throw new ArgumentException($"XLNet labels must be [batch {batch.BatchSize}, {(batch.TargetMapping is null ? "length" : "PredictCount")} {rows}] (got {batch.Labels.Length})");
        }
    }

    /// <summary>Writes config.json (HF XLNetConfig names) and model.safetensors (HF names, lm_loss.weight tied: not stored), each atomically.</summary>
    public void Save(string directory) => _parameters.Save(directory, "xlnet", "XLNetLMHeadModel", json =>
    {
        var config = Config;
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("d_model", config.HiddenSize);
        json.WriteNumber("n_layer", config.LayerCount);
        json.WriteNumber("n_head", config.HeadCount);
        json.WriteNumber("d_head", config.HeadDim);
        json.WriteNumber("d_inner", config.InnerSize);
        json.WriteString("ff_activation", TrainableParameters.ActivationName(config.Activation));
        json.WriteNumber("layer_norm_eps", config.LayerNormEpsilon);
        json.WriteString("attn_type", config.Unidirectional ? "uni" : "bi");
        json.WriteNumber("clamp_len", config.ClampLength);
        json.WriteBoolean("bi_data", false);
        json.WriteBoolean("untie_r", true);
        json.WriteNull("mem_len");
        json.WriteBoolean("same_length", false);
        json.WriteNumber("dropout", 0.0);
        json.WriteNumber("bos_token_id", config.BosTokenId);
        json.WriteNumber("eos_token_id", config.EosTokenId);
        json.WriteNumber("pad_token_id", config.PadTokenId);
        json.WriteNumber("initializer_range", 0.02);
    });
}
