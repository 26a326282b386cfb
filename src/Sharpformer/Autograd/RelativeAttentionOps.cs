using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Autograd;

/// <summary>
/// Tape ops XLNet's two-stream relative attention adds: a learned row added to every row (r_w_bias, mask_emb), a
/// constant row mix (target_mapping's scatter and gather), the relative position + segment score bias, attention over
/// one sequence with that bias and a visibility matrix, and row concatenation.
/// </summary>
public static class RelativeAttentionOps
{
    /// <summary>x + b for every [width] row of x, b a parameter of <paramref name="bias"/>'s length; b's gradient sums the rows.</summary>
    public static Variable AddRow(this Tape tape, Variable input, Tensor bias)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(bias);
        int width = bias.Length;
        if (input.Length % width != 0)
        {
            throw new ArgumentException($"a row of {width} values does not tile an activation of {input.Length}");
        }
        var output = new Variable(new float[input.Length]);
        for (int offset = 0; offset < input.Length; offset += width)
        {
            TensorPrimitives.Add(input.Value.AsSpan(offset, width), bias.Span, output.Value.AsSpan(offset, width));
        }
        tape.Record(() =>
        {
            if (!output.HasGradient)
            {
                return;
            }
            TensorPrimitives.Add(input.Gradient, output.Gradient, input.Gradient);
            var gradient = tape.ParameterGradient(bias);
            for (int offset = 0; !gradient.IsEmpty && offset < input.Length; offset += width)
            {
                TensorPrimitives.Add(gradient, output.Gradient.AsSpan(offset, width), gradient);
            }
        });
        return output;
    }

    /// <summary>
    /// out[o] = Σ_i matrix[o, i]·in[i] over rows of <paramref name="width"/>, for a constant matrix [outRows, inRows]
    /// (<paramref name="transpose"/>: read it as [inRows, outRows] transposed); the gradient is matrixᵀ·dOut.
    /// </summary>
    public static Variable MixRows(this Tape tape, Variable input, float[] matrix, int outRows, int inRows, int width, bool transpose)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(matrix);
        if (input.Length != inRows * width || matrix.Length != outRows * inRows)
        {
            throw new ArgumentException($"row mix of [{outRows}, {inRows}] needs {inRows} rows of {width} (got {input.Length} values, matrix {matrix.Length})");
        }
        float Weight(int o, int i) => transpose ? matrix[i * outRows + o] : matrix[o * inRows + i];
        var output = new Variable(new float[outRows * width]);
        for (int o = 0; o < outRows; o++)
        {
            for (int i = 0; i < inRows; i++)
            {
                float weight = Weight(o, i);
                if (weight != 0f)
                {
                    var row = output.Value.AsSpan(o * width, width);
                    TensorPrimitives.MultiplyAdd(input.Value.AsSpan(i * width, width), weight, row, row);
                }
            }
        }
        tape.Record(() =>
        {
            if (!output.HasGradient)
            {
                return;
            }
            for (int o = 0; o < outRows; o++)
            {
                for (int i = 0; i < inRows; i++)
                {
                    float weight = Weight(o, i);
                    if (weight != 0f)
                    {
                        var row = input.Gradient.AsSpan(i * width, width);
                        TensorPrimitives.MultiplyAdd(output.Gradient.AsSpan(o * width, width), weight, row, row);
                    }
                }
            }
        });
        return output;
    }

    /// <summary>Concatenation of activations (batch rows run one at a time); each gets its slice of the gradient.</summary>
    public static Variable Concat(this Tape tape, IReadOnlyList<Variable> parts)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 1)
        {
            return parts[0];
        }
        var output = new Variable(new float[parts.Sum(part => part.Length)]);
        int offset = 0;
        foreach (var part in parts)
        {
            part.Value.CopyTo(output.Value, offset);
            offset += part.Length;
        }
        tape.Record(() =>
        {
            if (!output.HasGradient)
            {
                return;
            }
            int start = 0;
            foreach (var part in parts)
            {
                TensorPrimitives.Add(part.Gradient, output.Gradient.AsSpan(start, part.Length), part.Gradient);
                start += part.Length;
            }
        });
        return output;
    }

    /// <summary>
    /// The relative score bias [heads, tokens, tokens] (<see cref="RelativeScores"/>) from queries [tokens, heads·headDim],
    /// position projections [2·tokens-1, heads·headDim], r_r_bias and r_s_bias [heads, headDim], seg_embed [2, heads, headDim]
    /// and segment ids (null = no segment term).
    /// </summary>
    public static Variable RelativeScoreBias(this Tape tape, Variable queries, Variable positions, Tensor positionBias, Tensor segmentBias,
        Tensor segmentEmbedding, int[]? segments, int tokenCount, int headCount, int headDim, float scale)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(positionBias);
        ArgumentNullException.ThrowIfNull(segmentBias);
        ArgumentNullException.ThrowIfNull(segmentEmbedding);
        int inner = headCount * headDim, square = tokenCount * tokenCount;
        if (queries.Length != tokenCount * inner || positions.Length != (2 * tokenCount - 1) * inner || (segments is not null && segments.Length != tokenCount))
        {
            throw new ArgumentException($"relative scores need queries [{tokenCount}, {inner}], positions [{2 * tokenCount - 1}, {inner}] and {tokenCount} segment ids");
        }
        var bias = new Variable(new float[headCount * square]);
        for (int h = 0; h < headCount; h++)
        {
            int o = h * headDim;
            RelativeScores.Forward(queries.Value.AsSpan(o), positions.Value.AsSpan(o), inner,
                positionBias.Span.Slice(o, headDim), segmentBias.Span.Slice(o, headDim),
                segmentEmbedding.Span.Slice(o, headDim), segmentEmbedding.Span.Slice(inner + o, headDim),
                segments, tokenCount, headDim, scale, bias.Value.AsSpan(h * square, square));
        }
        tape.Record(() =>
        {
            if (!bias.HasGradient)
            {
                return;
            }
            var dPositionBias = tape.ParameterGradient(positionBias);
            var dSegmentBias = tape.ParameterGradient(segmentBias);
            var dSegment = tape.ParameterGradient(segmentEmbedding);
            for (int h = 0; h < headCount; h++)
            {
                int o = h * headDim;
                RelativeScores.Backward(queries.Value.AsSpan(o), positions.Value.AsSpan(o), inner,
                    positionBias.Span.Slice(o, headDim), segmentBias.Span.Slice(o, headDim),
                    segmentEmbedding.Span.Slice(o, headDim), segmentEmbedding.Span.Slice(inner + o, headDim),
                    segments, tokenCount, headDim, scale, bias.Gradient.AsSpan(h * square, square),
                    queries.Gradient.AsSpan(o), positions.Gradient.AsSpan(o),
                    dPositionBias.IsEmpty ? default : dPositionBias.Slice(o, headDim),
                    dSegmentBias.IsEmpty ? default : dSegmentBias.Slice(o, headDim),
                    dSegment.IsEmpty ? default : dSegment.Slice(o, headDim),
                    dSegment.IsEmpty ? default : dSegment.Slice(inner + o, headDim));
            }
        });
        return bias;
    }

    /// <summary>
    /// Attention of one sequence: queries, keys, values [tokens, heads·headDim], a score bias [heads, tokens, tokens] that
    /// gets its gradient, and a visibility matrix [tokens, tokens] (1 = query i sees key j). Returns the heads [tokens, heads·headDim].
    /// </summary>
    public static Variable BiasedAttention(this Tape tape, Variable queries, Variable keys, Variable values, Variable scoreBias, byte[] visibility,
        int tokenCount, int headCount, int headDim, float scale)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(scoreBias);
        ArgumentNullException.ThrowIfNull(visibility);
        int inner = headCount * headDim, square = tokenCount * tokenCount;
        var probabilities = new float[headCount * square];
        var heads = new Variable(new float[tokenCount * inner]);
        HeadMask MaskOf(int h) => new()
        {
            Kind = AttentionKind.Bidirectional,
            Visibility = visibility,
            ScoreBias = scoreBias.Value.AsSpan(h * square, square),
        };
        for (int h = 0; h < headCount; h++)
        {
            AttentionTraining.Forward(queries.Value.AsSpan(h * headDim), inner, keys.Value.AsSpan(h * headDim), values.Value.AsSpan(h * headDim), inner,
                MaskOf(h), tokenCount, tokenCount, headDim, scale, probabilities.AsSpan(h * square, square), heads.Value.AsSpan(h * headDim), inner);
        }
        tape.Record(() =>
        {
            if (!heads.HasGradient)
            {
                return;
            }
            var scratch = new float[tokenCount];
            for (int h = 0; h < headCount; h++)
            {
                AttentionTraining.Backward(queries.Value.AsSpan(h * headDim), inner, keys.Value.AsSpan(h * headDim), values.Value.AsSpan(h * headDim), inner,
                    MaskOf(h), tokenCount, tokenCount, headDim, scale, probabilities.AsSpan(h * square, square), heads.Gradient.AsSpan(h * headDim), inner,
                    queries.Gradient.AsSpan(h * headDim), keys.Gradient.AsSpan(h * headDim), values.Gradient.AsSpan(h * headDim),
                    scoreBias.Gradient.AsSpan(h * square, square), scratch);
            }
        });
        return heads;
    }
}
