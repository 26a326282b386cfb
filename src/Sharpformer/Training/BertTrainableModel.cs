using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// BertForMaskedLM for training (BertForPreTraining when a batch carries next-sentence labels): writable copies of
/// the weights (the MLM decoder tied to the word embeddings, so stored once), forward + backward on a
/// <see cref="Tape"/>, masked-LM cross-entropy (+ NSP), UniLM visibility matrices and token types honoured, and a
/// checkpoint that HF and <see cref="BertForMaskedLM.Load(string)"/> read back.
/// </summary>
public sealed class BertTrainableModel : ITrainableModel
{
    private readonly TrainableParameters _parameters = new();
    private readonly Rng _dropoutRng;

    /// <param name="nextSentenceHead">Whether the model has bert.pooler.* and cls.seq_relationship.* (needed for NSP labels).</param>
    public BertTrainableModel(BertConfig config, Func<string, int[], Tensor> weights, bool nextSentenceHead = true, BertDropout? dropout = null,
        ulong dropoutSeed = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        var copying = _parameters.Copying(weights);
        var encoder = new BertModel(config, copying, "bert.", pooler: nextSentenceHead);
        Model = new BertForMaskedLM(encoder, copying, nextSentenceHead);
        _parameters.SortBy(ExpectedTensors(config, nextSentenceHead).Select(t => t.Name));
        Dropout = dropout ?? BertDropout.None;
        _dropoutRng = new Rng(dropoutSeed);
    }

    /// <summary>Loads a BertForMaskedLM / BertForPreTraining checkpoint folder (config dropouts included).</summary>
    public static BertTrainableModel Load(string folder, ulong dropoutSeed = 0) => TrainableParameters.Load(folder, "bert", checkpoint =>
    {
        if (!checkpoint.Contains("cls.predictions.bias") || !checkpoint.Contains("bert.embeddings.word_embeddings.weight"))
        {
            throw new CheckpointException($"{checkpoint.Directory}: training needs a BertForMaskedLM or BertForPreTraining checkpoint (bert.* and cls.predictions.*)");
        }
        bool nextSentence = checkpoint.Contains("bert.pooler.dense.weight") && checkpoint.Contains("cls.seq_relationship.weight");
        return new BertTrainableModel(BertConfig.FromHf(checkpoint.Config), checkpoint.Read, nextSentence, BertDropout.FromHf(checkpoint.Config), dropoutSeed);
    });

    /// <summary>Random weights N(0, 0.02), unit norms, zero biases, with the pooler and NSP head.</summary>
    public static BertTrainableModel CreateRandom(BertConfig config, ulong seed, BertDropout? dropout = null) =>
        new(config, RandomWeights.Create(seed), nextSentenceHead: true, dropout, seed + 1);

    private static IEnumerable<(string Name, int[] Shape)> ExpectedTensors(BertConfig config, bool nextSentence) =>
        config.ExpectedTensors("bert.", nextSentence).Concat(config.ExpectedHeadTensors(nextSentence));

    /// <summary>The inference model over the same (trained) weight tensors.</summary>
    public BertForMaskedLM Model { get; }

    public BertConfig Config => Model.Config;

    public BertDropout Dropout { get; }

    public string ModelType => "bert";

    public IReadOnlyList<Parameter> Parameters => _parameters.Parameters;

    public LossResult ForwardBackward(TrainingBatch batch, float gradientScale = 1f)
    {
        var tape = new Tape(_parameters.Gradients, _dropoutRng);
        var loss = Loss(tape, batch, Dropout, out var result, out bool anyTarget);
        if (anyTarget)
        {
            tape.Backward(loss, gradientScale);
        }
        return result;
    }

    public LossResult Evaluate(TrainingBatch batch)
    {
        Loss(new Tape(_parameters.Gradients), batch, BertDropout.None, out var result, out _);
        return result;
    }

    /// <summary>Prediction logits [batch·length, vocab] and, when the batch has NSP labels, NSP logits [batch, 2]; dropout off.</summary>
    public BertTrainingOutput Forward(TrainingBatch batch)
    {
        Check(batch);
        return Model.Forward(new Tape(_parameters.Gradients), batch.InputIds, batch.TokenTypeIds, batch.BatchSize, batch.Length, batch.LayerMasks(),
            BertDropout.None, batch.NextSentenceLabels is not null);
    }

    /// <summary>
    /// Masked-LM mean over labelled positions, plus (BertForPreTraining) the next-sentence mean over rows; the target
    /// count is the masked-LM one (<see cref="TrainingBatch.TargetCount"/>).
    /// </summary>
    private Variable Loss(Tape tape, TrainingBatch batch, BertDropout dropout, out LossResult result, out bool anyTarget)
    {
        Check(batch);
        var output = Model.Forward(tape, batch.InputIds, batch.TokenTypeIds, batch.BatchSize, batch.Length, batch.LayerMasks(), dropout,
            batch.NextSentenceLabels is not null);
        var loss = tape.CrossEntropy(output.Logits, batch.Labels, Config.VocabSize, TrainingBatch.IgnoreIndex, out int count, out double mean);
        anyTarget = count > 0;
        if (output.NextSentenceLogits is not null)
        {
            var nextSentence = tape.CrossEntropy(output.NextSentenceLogits, batch.NextSentenceLabels!, 2, TrainingBatch.IgnoreIndex,
                out int pairs, out double nextMean);
            loss = tape.Add(loss, nextSentence);
            mean += nextMean;
            anyTarget |= pairs > 0;
        }
        result = new LossResult(mean, count);
        return loss;
    }

    private void Check(TrainingBatch batch)
    {
        TrainingBatch.CheckTokenRows(batch, "BERT is an encoder");
        if (batch.TokenTypeIds is not null && batch.TokenTypeIds.Any(type => (uint)type >= (uint)Config.TypeVocabSize))
        {
            throw new ArgumentException($"token type ids must lie in 0..{Config.TypeVocabSize - 1} (type_vocab_size {Config.TypeVocabSize})");
        }
        if (batch.NextSentenceLabels is not null && batch.NextSentenceLabels.Length != batch.BatchSize)
        {
            throw new ArgumentException($"next-sentence labels hold {batch.NextSentenceLabels.Length} values; expected one per row ({batch.BatchSize})");
        }
    }

    /// <summary>Writes config.json (HF BertConfig names) and model.safetensors (HF names, the tied decoder once), each atomically.</summary>
    public void Save(string directory)
    {
        var config = Config;
        bool nextSentence = Model.HasNextSentenceHead;
        _parameters.Save(directory, "bert", nextSentence ? "BertForPreTraining" : "BertForMaskedLM", json =>
        {
            json.WriteNumber("vocab_size", config.VocabSize);
            json.WriteNumber("hidden_size", config.HiddenSize);
            json.WriteNumber("num_hidden_layers", config.LayerCount);
            json.WriteNumber("num_attention_heads", config.HeadCount);
            json.WriteNumber("intermediate_size", config.IntermediateSize);
            json.WriteNumber("max_position_embeddings", config.MaxPositions);
            json.WriteNumber("type_vocab_size", config.TypeVocabSize);
            json.WriteNumber("layer_norm_eps", config.LayerNormEpsilon);
            json.WriteString("hidden_act", TrainableParameters.ActivationName(config.Activation));
            json.WriteNumber("pad_token_id", config.PadTokenId);
            json.WriteNumber("hidden_dropout_prob", Dropout.Hidden);
            json.WriteNumber("attention_probs_dropout_prob", Dropout.Attention);
            json.WriteString("position_embedding_type", "absolute");
            json.WriteNumber("initializer_range", 0.02);
        });
    }
}
