using Sharpformer.Autograd;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// What BART and T5 training share: batches of source ids [batch, Length] and labels [batch, TargetLength], decoder
/// inputs given or derived from the labels by HF's shift-right (start token first, last label dropped, -100 → pad),
/// the mean cross-entropy over labelled target positions, and forward + backward on a <see cref="Tape"/>.
/// </summary>
public abstract class EncoderDecoderTrainableModel : ITrainableModel
{
    private readonly Rng _dropoutRng;

    protected EncoderDecoderTrainableModel(ulong dropoutSeed) => _dropoutRng = new Rng(dropoutSeed);

    /// <summary>The parameters, their gradients, and the checkpoint writer.</summary>
    protected TrainableParameters Weights { get; } = new();

    public abstract string ModelType { get; }

    public abstract int VocabSize { get; }

    /// <summary>The id that replaces -100 in derived decoder inputs (HF pad_token_id).</summary>
    public abstract int PadTokenId { get; }

    /// <summary>The first decoder input (HF decoder_start_token_id).</summary>
    public abstract int DecoderStartTokenId { get; }

    public IReadOnlyList<Parameter> Parameters => Weights.Parameters;

    /// <summary>Logits [batch·TargetLength, vocab] on <paramref name="tape"/>; dropout only when <paramref name="training"/>.</summary>
    protected abstract Variable Forward(Tape tape, TrainingBatch batch, int[] decoderIds, bool training);

    public abstract void Save(string directory);

    public LossResult ForwardBackward(TrainingBatch batch, float gradientScale = 1f)
    {
        var tape = new Tape(Weights.Gradients, _dropoutRng);
        var loss = Loss(tape, batch, training: true, out var result);
        if (result.TargetCount > 0)
        {
            tape.Backward(loss, gradientScale);
        }
        return result;
    }

    public LossResult Evaluate(TrainingBatch batch)
    {
        Loss(new Tape(Weights.Gradients), batch, training: false, out var result);
        return result;
    }

    /// <summary>Logits [batch·TargetLength, vocab] of a batch with dropout off (what <see cref="Evaluate"/> scores).</summary>
    public float[] Logits(TrainingBatch batch)
    {
        Check(batch);
        return Forward(new Tape(Weights.Gradients), batch, DecoderInputs(batch), training: false).Value;
    }

    /// <summary>The batch's decoder inputs, or HF's shift_tokens_right of its labels: [start, labels[..^1]] with -100 → pad.</summary>
    public int[] DecoderInputs(TrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.DecoderInputIds is not null)
        {
            return batch.DecoderInputIds;
        }
        int length = batch.TargetLength;
        var inputs = new int[batch.Labels.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            int label = i % length == 0 ? DecoderStartTokenId : batch.Labels[i - 1];
            inputs[i] = label == TrainingBatch.IgnoreIndex ? PadTokenId : label;
        }
        return inputs;
    }

    private Variable Loss(Tape tape, TrainingBatch batch, bool training, out LossResult result)
    {
        Check(batch);
        var logits = Forward(tape, batch, DecoderInputs(batch), training);
        var loss = tape.CrossEntropy(logits, batch.Labels, VocabSize, TrainingBatch.IgnoreIndex, out int count, out double mean);
        result = new LossResult(mean, count);
        return loss;
    }

    private void Check(TrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.TargetLength <= 0)
        {
            throw new ArgumentException($"{ModelType} is an encoder-decoder: the batch needs TargetLength > 0 and labels [batch, TargetLength]");
        }
        if (batch.Visibility is not null || batch.TokenTypeIds is not null || batch.PermutationMask is not null || batch.TargetMapping is not null
            || batch.NextSentenceLabels is not null)
        {
            throw new ArgumentException($"{ModelType} takes source ids, an attention mask and labels: visibility matrices, token types, next-sentence labels and XLNet permutations do not apply");
        }
        int source = batch.BatchSize * batch.Length, target = batch.BatchSize * batch.TargetLength;
        if (batch.BatchSize <= 0 || batch.Length <= 0 || batch.InputIds.Length != source)
        {
            throw new ArgumentException($"a batch of {batch.BatchSize} × {batch.Length} needs that many input ids (got {batch.InputIds.Length})");
        }
        if (batch.Labels.Length != target)
        {
            throw new ArgumentException($"labels hold {batch.Labels.Length} values; expected batch {batch.BatchSize} × target length {batch.TargetLength}");
        }
        if (batch.DecoderInputIds is not null && batch.DecoderInputIds.Length != target)
        {
            throw new ArgumentException($"decoder input ids hold {batch.DecoderInputIds.Length} values; expected batch {batch.BatchSize} × target length {batch.TargetLength}");
        }
        if (batch.AttentionMask is not null && batch.AttentionMask.Length != source)
        {
            throw new ArgumentException($"attention mask holds {batch.AttentionMask.Length} values; expected {source}");
        }
        foreach (int id in batch.InputIds.Concat(DecoderInputs(batch)))
        {
            if ((uint)id >= (uint)VocabSize)
            {
                throw new ArgumentException($"token id {id} is outside the model's vocabulary of {VocabSize}");
            }
        }
    }
}

/// <summary>
/// What the BART and T5 wrappers share over their own model, config and dropout types: writable copies of the weights
/// in HF's checkpoint order, the inference model over them, and the config's dropouts (none when evaluating).
/// </summary>
public abstract class EncoderDecoderTrainableModel<TModel, TConfig, TDropout> : EncoderDecoderTrainableModel
    where TModel : EncoderDecoderModel
    where TConfig : class
    where TDropout : class
{
    private readonly TDropout _noDropout;

    /// <param name="create">The model over <see cref="EncoderDecoderTrainableModel.Weights"/> (built with <see cref="TrainableParameters.Copying"/>).</param>
    /// <param name="expectedTensors">The config's tensors in HF's checkpoint order, which the parameters take.</param>
    private protected EncoderDecoderTrainableModel(
        TConfig config, Func<TrainableParameters, TModel> create, Func<TConfig, IEnumerable<(string Name, int[] Shape)>> expectedTensors,
        TDropout? dropout, TDropout noDropout, ulong dropoutSeed)
        : base(dropoutSeed)
    {
        ArgumentNullException.ThrowIfNull(config);
        Model = create(Weights);
        Weights.SortBy(expectedTensors(config).Select(tensor => tensor.Name));
        Config = config;
        Dropout = dropout ?? noDropout;
        _noDropout = noDropout;
    }

    /// <summary>The inference model over the same (trained) weight tensors.</summary>
    public TModel Model { get; }

    public TConfig Config { get; }

    public TDropout Dropout { get; }

    public override string ModelType => Model.ModelType;

    public override int VocabSize => Model.VocabSize;

    // The model's special tokens are its config's pad_token_id and decoder_start_token_id.
    public override int PadTokenId => Model.SpecialTokens.PadTokenId;

    public override int DecoderStartTokenId => Model.SpecialTokens.DecoderStartTokenId;

    /// <summary>The config's dropouts when <paramref name="training"/>, none otherwise.</summary>
    protected TDropout DropoutFor(bool training) => training ? Dropout : _noDropout;
}
