using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Autograd;

/// <summary>
/// Tape ops the encoder and encoder-decoder families add (BERT's pooler and NSP head, BART's logits bias, T5's
/// gated feed-forward and relative position bias), each a forward kernel plus a recorded backward.
/// </summary>
public static class TapeOps
{
    /// <summary>a ⊙ b (T5 v1.1's gate: act(wi_0·x) ⊙ wi_1·x).</summary>
    public static Variable Multiply(this Tape tape, Variable a, Variable b)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"cannot multiply activations of {a.Length} and {b.Length} values");
        }
        var product = new Variable(new float[a.Length]);
        TensorPrimitives.Multiply(a.Value, b.Value, product.Value);
        tape.Record(() =>
        {
            if (product.HasGradient)
            {
                BackwardOps.Multiply(a.Value, b.Value, product.Gradient, a.Gradient, b.Gradient);
            }
        });
        return product;
    }

    /// <summary>tanh(x) (BERT's pooler); the backward reads the saved output.</summary>
    public static Variable Tanh(this Tape tape, Variable input)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        var output = new Variable(new float[input.Length]);
        TensorPrimitives.Tanh(input.Value, output.Value);
        tape.Record(() =>
        {
            if (output.HasGradient)
            {
                BackwardOps.Tanh(output.Value, output.Gradient, input.Gradient);
            }
        });
        return output;
    }

    /// <summary>Rows <paramref name="rows"/> of a [*, width] activation (BERT's [CLS] rows for the pooler); the gradient scatters back.</summary>
    public static Variable Rows(this Tape tape, Variable input, int width, int[] rows)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(rows);
        int count = input.Length / width;
        var output = new Variable(new float[rows.Length * width]);
        for (int i = 0; i < rows.Length; i++)
        {
            if ((uint)rows[i] >= (uint)count)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), $"row {rows[i]} is outside the activation's {count} rows");
            }
            input.Value.AsSpan(rows[i] * width, width).CopyTo(output.Value.AsSpan(i * width));
        }
        tape.Record(() =>
        {
            if (output.HasGradient)
            {
                Backward.Embedding(rows, output.Gradient, width, input.Gradient);
            }
        });
        return output;
    }

    /// <summary>
    /// x + c per row for a constant <paramref name="rowConstant"/> of the row width (BART's final_logits_bias, a
    /// buffer: it gets no gradient); the gradient passes to x unchanged.
    /// </summary>
    public static Variable AddConstantRow(this Tape tape, Variable input, ReadOnlySpan<float> rowConstant)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        int width = rowConstant.Length;
        if (width == 0 || input.Length % width != 0)
        {
            throw new ArgumentException($"a row constant of {width} values does not tile an activation of {input.Length}");
        }
        var output = new Variable(new float[input.Length]);
        for (int offset = 0; offset < input.Length; offset += width)
        {
            TensorPrimitives.Add(input.Value.AsSpan(offset, width), rowConstant, output.Value.AsSpan(offset, width));
        }
        tape.Record(() =>
        {
            if (output.HasGradient)
            {
                TensorPrimitives.Add(input.Gradient, output.Gradient, input.Gradient);
            }
        });
        return output;
    }

    /// <summary>
    /// T5's relative position bias [heads, pairs] gathered from <paramref name="table"/> [buckets, heads] by one bucket per
    /// (query, key) pair; the attention's score-bias gradient (summed over every layer that shares it) scatters into the table.
    /// </summary>
    public static Variable PositionBias(this Tape tape, Tensor table, int headCount, int[] buckets)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(buckets);
        var bias = new Variable(new float[headCount * buckets.Length]);
        BackwardOps.GatherBias(table.Span, headCount, buckets, bias.Value);
        tape.Record(() =>
        {
            var gradient = tape.ParameterGradient(table);
            if (bias.HasGradient && !gradient.IsEmpty)
            {
                BackwardOps.GatherBiasBackward(bias.Gradient, headCount, buckets, gradient);
            }
        });
        return bias;
    }
}
