using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Autograd;

/// <summary>An activation on the tape: its values and, once backward reaches it, its gradient (same length).</summary>
public sealed class Variable
{
    private float[]? _gradient;

    public Variable(float[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Value = value;
    }

    public float[] Value { get; }

    public int Length => Value.Length;

    /// <summary>The gradient, allocated (zeroed) on first use; ops accumulate into it.</summary>
    public float[] Gradient => _gradient ??= new float[Value.Length];

    /// <summary>Whether any op has written a gradient (a branch the loss does not reach has none).</summary>
    public bool HasGradient => _gradient is not null;
}

/// <summary>
/// A gradient tape at layer granularity: each coarse op (Linear, LayerNorm, Attention, activation, Embedding,
/// CrossEntropy, Add, Dropout) runs its forward kernel and records a closure that runs its backward kernel.
/// <see cref="Backward"/> replays the closures in reverse. Parameter gradients go to the arrays that
/// <see cref="ParameterGradient"/> finds for a weight tensor (by reference, so a tied weight sums its uses);
/// a weight without one is frozen. Dropout draws its masks from <see cref="Rng"/> (null = dropout off).
/// </summary>
public sealed class Tape
{
    private readonly List<Action> _backward = [];
    private readonly IReadOnlyDictionary<Tensor, float[]> _parameterGradients;

    public Tape(IReadOnlyDictionary<Tensor, float[]> parameterGradients, Rng? dropoutRng = null)
    {
        ArgumentNullException.ThrowIfNull(parameterGradients);
        _parameterGradients = parameterGradients;
        Rng = dropoutRng;
    }

    public Rng? Rng { get; }

    public int OpCount => _backward.Count;

    /// <summary>The gradient array of a weight (empty = frozen or none: the backward skips it).</summary>
    public Span<float> ParameterGradient(Tensor? weight) =>
        weight is not null && _parameterGradients.TryGetValue(weight, out var gradient) ? gradient : default;

    /// <summary>Adds an op's backward; it runs after the backward of every op recorded later.</summary>
    public void Record(Action backward) => _backward.Add(backward);

    /// <summary>Seeds <paramref name="output"/>'s gradient with <paramref name="seed"/> (each element) and runs every backward in reverse.</summary>
    public void Backward(Variable output, float seed = 1f)
    {
        ArgumentNullException.ThrowIfNull(output);
        Array.Fill(output.Gradient, seed);
        for (int i = _backward.Count - 1; i >= 0; i--)
        {
            _backward[i]();
        }
        _backward.Clear();
    }

    /// <summary>a + b (residual connection): the gradient flows unchanged to both.</summary>
    public Variable Add(Variable a, Variable b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"cannot add activations of {a.Length} and {b.Length} values");
        }
        var sum = new Variable(new float[a.Length]);
        TensorPrimitives.Add(a.Value, b.Value, sum.Value);
        Record(() =>
        {
            if (sum.HasGradient)
            {
                TensorPrimitives.Add(a.Gradient, sum.Gradient, a.Gradient);
                TensorPrimitives.Add(b.Gradient, sum.Gradient, b.Gradient);
            }
        });
        return sum;
    }

    /// <summary>x·factor (T5's tied-head rescaling, BART's embedding scale): the gradient is scaled alike.</summary>
    public Variable Scale(Variable input, float factor)
    {
        ArgumentNullException.ThrowIfNull(input);
        var output = new Variable(new float[input.Length]);
        TensorPrimitives.Multiply(input.Value, factor, output.Value);
        Record(() =>
        {
            if (output.HasGradient)
            {
                TensorPrimitives.MultiplyAdd(output.Gradient, factor, input.Gradient, input.Gradient);
            }
        });
        return output;
    }

    /// <summary>Rows of <paramref name="table"/> [count, width] picked by ids; the table's gradient gets a scatter-add.</summary>
    public Variable Embedding(Tensor table, ReadOnlySpan<int> ids)
    {
        ArgumentNullException.ThrowIfNull(table);
        int width = table.Shape[^1];
        var output = new Variable(new float[ids.Length * width]);
        Kernels.Embedding.Lookup(table.Span, width, ids, output.Value);
        int[] saved = ids.ToArray();
        Record(() =>
        {
            var gradient = ParameterGradient(table);
            if (output.HasGradient && !gradient.IsEmpty)
            {
                Kernels.Backward.Embedding(saved, output.Gradient, width, gradient);
            }
        });
        return output;
    }

    /// <summary>Inverted dropout with probability p (p = 0 or no <see cref="Rng"/>: the input itself, nothing recorded).</summary>
    public Variable Dropout(Variable input, float probability)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (probability == 0f || Rng is null)
        {
            return input;
        }
        var mask = new float[input.Length];
        Kernels.Backward.DropoutMask(Rng, probability, mask);
        var output = new Variable(new float[input.Length]);
        TensorPrimitives.Multiply(input.Value, mask, output.Value);
        Record(() =>
        {
            if (output.HasGradient)
            {
                TensorPrimitives.FusedMultiplyAdd(output.Gradient, mask, input.Gradient, input.Gradient);
            }
        });
        return output;
    }

    /// <summary>
    /// Mean cross-entropy of rows of <paramref name="vocabSize"/> logits against <paramref name="targets"/>
    /// (<paramref name="ignoreIndex"/> = no target), HF's CrossEntropyLoss(): a one-value variable; the logits'
    /// gradient is seed/count·(softmax - onehot).
    /// </summary>
    public Variable CrossEntropy(Variable logits, int[] targets, int vocabSize, int ignoreIndex, out int targetCount, out double meanLoss)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        double total = Kernels.Backward.CrossEntropy(logits.Value, targets, vocabSize, ignoreIndex, 0f, default, out int count);
        targetCount = count;
        meanLoss = count == 0 ? 0 : total / count;
        var loss = new Variable([count == 0 ? 0f : (float)(total / count)]);
        Record(() =>
        {
            if (loss.HasGradient && count > 0)
            {
                Kernels.Backward.CrossEntropy(logits.Value, targets, vocabSize, ignoreIndex, loss.Gradient[0] / count, logits.Gradient, out _);
            }
        });
        return loss;
    }
}
