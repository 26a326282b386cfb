using System.Numerics.Tensors;

namespace Sharpformer.Kernels;

/// <summary>
/// Backward kernels the encoder and encoder-decoder families add to <see cref="Backward"/>: the element-wise product
/// of a gated feed-forward, tanh (BERT's pooler) and T5's relative position bias table.
/// Gradient destinations accumulate (+=); an empty destination is skipped.
/// </summary>
public static class BackwardOps
{
    /// <summary>y = a ⊙ b: da += dy ⊙ b, db += dy ⊙ a.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> outputGradient, Span<float> aGradient, Span<float> bGradient)
    {
        if (b.Length != a.Length || outputGradient.Length < a.Length)
        {
            throw new ArgumentException($"product backward: a {a.Length}, b {b.Length}, output gradient {outputGradient.Length}");
        }
        outputGradient = outputGradient[..a.Length];
        if (!aGradient.IsEmpty)
        {
            TensorPrimitives.FusedMultiplyAdd(outputGradient, b, aGradient[..a.Length], aGradient[..a.Length]);
        }
        if (!bGradient.IsEmpty)
        {
            TensorPrimitives.FusedMultiplyAdd(outputGradient, a, bGradient[..a.Length], bGradient[..a.Length]);
        }
    }

    /// <summary>y = tanh(x), from the saved output: dx += dy·(1 - y²).</summary>
    public static void Tanh(ReadOnlySpan<float> output, ReadOnlySpan<float> outputGradient, Span<float> inputGradient)
    {
        if (outputGradient.Length < output.Length || inputGradient.Length < output.Length)
        {
            throw new ArgumentException($"tanh backward over {output.Length} values: output gradient {outputGradient.Length}, input gradient {inputGradient.Length}");
        }
        for (int i = 0; i < output.Length; i++)
        {
            inputGradient[i] += outputGradient[i] * (1f - output[i] * output[i]);
        }
    }

    /// <summary>
    /// T5's position bias: bias[h, i] = table[buckets[i], h] for a [bucketCount, heads] table and one bucket per
    /// (query, key) pair, written head-major as [heads, pairs] (the attention's score-bias layout).
    /// </summary>
    public static void GatherBias(ReadOnlySpan<float> table, int headCount, ReadOnlySpan<int> buckets, Span<float> bias)
    {
        int pairs = buckets.Length;
        CheckBias(table.Length, headCount, buckets, bias.Length);
        for (int h = 0; h < headCount; h++)
        {
            for (int i = 0; i < pairs; i++)
            {
                bias[h * pairs + i] = table[buckets[i] * headCount + h];
            }
        }
    }

    /// <summary>Backward of <see cref="GatherBias"/>: tableGradient[buckets[i], h] += biasGradient[h, i] (a scatter-add; a bucket sums its pairs).</summary>
    public static void GatherBiasBackward(ReadOnlySpan<float> biasGradient, int headCount, ReadOnlySpan<int> buckets, Span<float> tableGradient)
    {
        int pairs = buckets.Length;
        CheckBias(tableGradient.Length, headCount, buckets, biasGradient.Length);
        for (int h = 0; h < headCount; h++)
        {
            for (int i = 0; i < pairs; i++)
            {
                tableGradient[buckets[i] * headCount + h] += biasGradient[h * pairs + i];
            }
        }
    }

    private static void CheckBias(int tableLength, int headCount, ReadOnlySpan<int> buckets, int biasLength)
    {
        if (headCount <= 0 || tableLength % headCount != 0 || biasLength < headCount * buckets.Length)
        {
            throw new ArgumentException($"position bias of {headCount} heads over {buckets.Length} pairs: table {tableLength}, bias {biasLength}");
        }
        int bucketCount = tableLength / headCount;
        foreach (int bucket in buckets)
        {
            if ((uint)bucket >= (uint)bucketCount)
            {
                throw new ArgumentOutOfRangeException(nameof(buckets), $"bucket {bucket} is outside the table of {bucketCount} buckets");
            }
        }
    }
}
