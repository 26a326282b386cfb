using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>A trainable tensor: its value, its gradient (accumulated with +=), and whether AdamW decays it.</summary>
public sealed class Parameter
{
    public Parameter(string name, Tensor value, bool weightDecay)
    {
        ArgumentNullException.ThrowIfNull(value);
        Name = name;
        Value = value;
        Gradient = new float[value.Length];
        WeightDecay = weightDecay;
    }

    /// <summary>The checkpoint name (HF's), the stored name for tied tensors.</summary>
    public string Name { get; }

    public Tensor Value { get; }

    public float[] Gradient { get; }

    /// <summary>False for norms, biases (and what the trainer is told to spare); true for matrices and embeddings.</summary>
    public bool WeightDecay { get; }

    public void ZeroGradient() => Array.Clear(Gradient);
}

/// <summary>The loss of one batch: the mean over its target positions, as HF's CrossEntropyLoss(), and how many there were.</summary>
public readonly record struct LossResult(double Loss, int TargetCount);

/// <summary>
/// What the trainer needs of a model: its parameters (tied tensors once), a forward + backward pass that adds
/// gradients into <see cref="Parameter.Gradient"/>, a forward-only loss, and a checkpoint writer.
/// </summary>
public interface ITrainableModel
{
    string ModelType { get; }

    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Loss of <paramref name="batch"/>; adds gradientScale · ∂loss/∂θ to every parameter's gradient.</summary>
    LossResult ForwardBackward(TrainingBatch batch, float gradientScale = 1f);

    /// <summary>Loss of <paramref name="batch"/> without recording anything.</summary>
    LossResult Evaluate(TrainingBatch batch);

    /// <summary>Writes config.json and model.safetensors (HF names, each file via a temporary file + rename).</summary>
    void Save(string directory);

    /// <summary>
    /// The generator dropout draws from, saved with the training state so a resumed run drops the same units;
    /// null when the model draws no random numbers.
    /// </summary>
    Rng? DropoutRng => null;
}
