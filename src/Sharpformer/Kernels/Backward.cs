using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Sharpformer.Tensors;

namespace Sharpformer.Kernels;

/// <summary>
/// Backward kernels of the coarse training ops (llm.c's forward/backward pairs). Every gradient destination is
/// accumulated into (+=), so a tensor used twice (a tied embedding, a residual) sums its uses; an empty
/// destination means "not needed" and is skipped.
/// </summary>
public static class Backward
{
    /// <summary>
    /// y = x·W + b (W stored as <paramref name="layout"/>): dX += dY·Wᵀ, dW += Xᵀ·dY (in W's own layout), dB += Σ_rows dY.
    /// The products run on the packed <see cref="MatMul"/> kernel, so they are as fast as a forward pass.
    /// </summary>
    public static void Linear(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> outputGradient,
        int rows, int inFeatures, int outFeatures, WeightLayout layout,
        Span<float> inputGradient, Span<float> weightGradient, Span<float> biasGradient)
    {
        if (input.Length < rows * inFeatures || weight.Length != inFeatures * outFeatures || outputGradient.Length < rows * outFeatures)
        {
            throw new ArgumentException($"linear backward [{rows}, {inFeatures}] → {outFeatures}: input {input.Length}, weight {weight.Length}, output gradient {outputGradient.Length}");
        }
        input = input[..(rows * inFeatures)];
        outputGradient = outputGradient[..(rows * outFeatures)];
        // Wᵀ is W read in the other layout, with in and out swapped.
        var flipped = layout == WeightLayout.InputMajor ? WeightLayout.OutputMajor : WeightLayout.InputMajor;
        if (!inputGradient.IsEmpty)
        {
            var product = ArrayPool<float>.Shared.Rent(rows * inFeatures);
            MatMul.Forward(outputGradient, weight, default, rows, outFeatures, inFeatures, flipped, product.AsSpan(0, rows * inFeatures));
            TensorPrimitives.Add(inputGradient[..(rows * inFeatures)], product.AsSpan(0, rows * inFeatures), inputGradient[..(rows * inFeatures)]);
            ArrayPool<float>.Shared.Return(product);
        }
        if (!weightGradient.IsEmpty)
        {
            // InputMajor dW[in, out] = Xᵀ·dY; OutputMajor dW[out, in] = dYᵀ·X. Transpose the left factor, then a plain GEMM.
            bool inputMajor = layout == WeightLayout.InputMajor;
            var left = inputMajor ? input : outputGradient;
            var right = inputMajor ? outputGradient : input;
            int leftWidth = inputMajor ? inFeatures : outFeatures;
            int rightWidth = inputMajor ? outFeatures : inFeatures;
            var transposed = ArrayPool<float>.Shared.Rent(rows * leftWidth);
            var product = ArrayPool<float>.Shared.Rent(leftWidth * rightWidth);
            Transpose(left, rows, leftWidth, transposed.AsSpan(0, rows * leftWidth));
            MatMul.Forward(transposed.AsSpan(0, rows * leftWidth), right, default, leftWidth, rows, rightWidth, WeightLayout.InputMajor,
                product.AsSpan(0, leftWidth * rightWidth));
            TensorPrimitives.Add(weightGradient, product.AsSpan(0, weightGradient.Length), weightGradient);
            ArrayPool<float>.Shared.Return(transposed);
            ArrayPool<float>.Shared.Return(product);
        }
        if (!biasGradient.IsEmpty)
        {
            for (int m = 0; m < rows; m++)
            {
                TensorPrimitives.Add(biasGradient, outputGradient.Slice(m * outFeatures, outFeatures), biasGradient);
            }
        }
    }

    /// <summary>destination[c, r] = source[r, c] for a [rows, columns] source, in cache-sized tiles.</summary>
    public static void Transpose(ReadOnlySpan<float> source, int rows, int columns, Span<float> destination)
    {
        const int Tile = 32;
        for (int r0 = 0; r0 < rows; r0 += Tile)
        {
            int r1 = Math.Min(rows, r0 + Tile);
            for (int c0 = 0; c0 < columns; c0 += Tile)
            {
                int c1 = Math.Min(columns, c0 + Tile);
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++)
                    {
                        destination[c * rows + r] = source[r * columns + c];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Layer norm backward per row of <paramref name="width"/>: with x̂ = (x - mean)·rstd recomputed from the input,
    /// dγ += dy·x̂, dβ += dy, dx += rstd·(g - mean(g) - x̂·mean(g·x̂)) where g = dy·γ.
    /// </summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> outputGradient, float epsilon, int width,
        Span<float> inputGradient, Span<float> gammaGradient, Span<float> betaGradient)
    {
        if (width <= 0 || x.Length % width != 0 || outputGradient.Length < x.Length || gamma.Length != width)
        {
            throw new ArgumentException($"layer norm backward over rows of {width}: input {x.Length}, output gradient {outputGradient.Length}, gamma {gamma.Length}");
        }
        var buffer = ArrayPool<float>.Shared.Rent(2 * width);
        var normalized = buffer.AsSpan(0, width);
        var scaled = buffer.AsSpan(width, width);
        for (int offset = 0; offset < x.Length; offset += width)
        {
            var row = x.Slice(offset, width);
            var dy = outputGradient.Slice(offset, width);
            float mean = TensorPrimitives.Sum(row) / width;
            TensorPrimitives.Subtract(row, mean, normalized);
            float inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(normalized) / width + epsilon);
            TensorPrimitives.Multiply(normalized, inverse, normalized);
            if (!gammaGradient.IsEmpty)
            {
                TensorPrimitives.FusedMultiplyAdd(dy, normalized, gammaGradient, gammaGradient);
            }
            if (!betaGradient.IsEmpty)
            {
                TensorPrimitives.Add(betaGradient, dy, betaGradient);
            }
            if (inputGradient.IsEmpty)
            {
                continue;
            }
            TensorPrimitives.Multiply(dy, gamma, scaled);
            float meanScaled = TensorPrimitives.Sum(scaled) / width;
            float meanScaledNormalized = TensorPrimitives.Dot(scaled, normalized) / width;
            var dx = inputGradient.Slice(offset, width);
            for (int i = 0; i < width; i++)
            {
                dx[i] += inverse * (scaled[i] - meanScaled - normalized[i] * meanScaledNormalized);
            }
        }
        ArrayPool<float>.Shared.Return(buffer);
    }

    /// <summary>
    /// RMS norm (T5) backward per row: with r = 1/√(mean(x²) + eps) and g = dy·γ, dγ += dy·x·r, dx += r·(g - x·r²·mean(g·x)).
    /// </summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> outputGradient, float epsilon, int width,
        Span<float> inputGradient, Span<float> gammaGradient)
    {
        if (width <= 0 || x.Length % width != 0 || outputGradient.Length < x.Length || gamma.Length != width)
        {
            throw new ArgumentException($"rms norm backward over rows of {width}: input {x.Length}, output gradient {outputGradient.Length}, gamma {gamma.Length}");
        }
        var buffer = ArrayPool<float>.Shared.Rent(width);
        var scaled = buffer.AsSpan(0, width);
        for (int offset = 0; offset < x.Length; offset += width)
        {
            var row = x.Slice(offset, width);
            var dy = outputGradient.Slice(offset, width);
            float inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / width + epsilon);
            if (!gammaGradient.IsEmpty)
            {
                TensorPrimitives.Multiply(dy, row, scaled);
                TensorPrimitives.MultiplyAdd(scaled, inverse, gammaGradient, gammaGradient);
            }
            if (inputGradient.IsEmpty)
            {
                continue;
            }
            TensorPrimitives.Multiply(dy, gamma, scaled);
            float meanScaledInput = TensorPrimitives.Dot(scaled, row) / width;
            var dx = inputGradient.Slice(offset, width);
            for (int i = 0; i < width; i++)
            {
                dx[i] += inverse * (scaled[i] - row[i] * inverse * inverse * meanScaledInput);
            }
        }
        ArrayPool<float>.Shared.Return(buffer);
    }

    /// <summary>GELU tanh backward: dx += dy·(0.5·(1 + t) + 0.5·x·(1 - t²)·√(2/π)·(1 + 3·0.044715·x²)), t = tanh(√(2/π)·(x + 0.044715·x³)).</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, ReadOnlySpan<float> outputGradient, Span<float> inputGradient)
    {
        CheckSameLength(x, outputGradient, inputGradient);
        const float SqrtTwoOverPi = 0.7978845608028654f;
        for (int i = 0; i < x.Length; i++)
        {
            float value = x[i];
            float square = value * value;
            float t = MathF.Tanh(SqrtTwoOverPi * value * (1f + 0.044715f * square));
            float derivative = 0.5f * (1f + t) + 0.5f * value * (1f - t * t) * SqrtTwoOverPi * (1f + 3f * 0.044715f * square);
            inputGradient[i] += outputGradient[i] * derivative;
        }
    }

    /// <summary>Exact GELU backward: dx += dy·(Φ(x) + x·φ(x)), with Φ from the same erf approximation as the forward.</summary>
    public static void GeluErf(ReadOnlySpan<float> x, ReadOnlySpan<float> outputGradient, Span<float> inputGradient)
    {
        CheckSameLength(x, outputGradient, inputGradient);
        const float InverseSqrtTwoPi = 0.3989422804014327f;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // Two exps an element: vectorized, as the forward is.
            for (; i + Vector512<float>.Count <= x.Length; i += Vector512<float>.Count)
            {
                var value = Vector512.Create(x.Slice(i, Vector512<float>.Count));
                var derivative = Activations.NormalCdf(value) + value * InverseSqrtTwoPi * Vector512.Exp(-0.5f * value * value);
                var gradient = inputGradient.Slice(i, Vector512<float>.Count);
                (Vector512.Create((ReadOnlySpan<float>)gradient) + Vector512.Create(outputGradient.Slice(i, Vector512<float>.Count)) * derivative).CopyTo(gradient);
            }
        }
        for (; i < x.Length; i++)
        {
            float value = x[i];
            inputGradient[i] += outputGradient[i] * (Activations.NormalCdf(value) + value * InverseSqrtTwoPi * MathF.Exp(-0.5f * value * value));
        }
    }

    /// <summary>ReLU backward: dx += dy where x &gt; 0 (torch's choice of 0 at x = 0).</summary>
    public static void Relu(ReadOnlySpan<float> x, ReadOnlySpan<float> outputGradient, Span<float> inputGradient)
    {
        CheckSameLength(x, outputGradient, inputGradient);
        for (int i = 0; i < x.Length; i++)
        {
            inputGradient[i] += x[i] > 0 ? outputGradient[i] : 0f;
        }
    }

    /// <summary>Embedding backward: table gradient rows ids[i] += dy[i] (a scatter-add; repeated ids sum).</summary>
    public static void Embedding(ReadOnlySpan<int> ids, ReadOnlySpan<float> outputGradient, int width, Span<float> tableGradient)
    {
        int count = tableGradient.Length / width;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)count)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} at index {i} is outside the embedding table of {count} rows");
            }
            var row = tableGradient.Slice(id * width, width);
            TensorPrimitives.Add(row, outputGradient.Slice(i * width, width), row);
        }
    }

    /// <summary>Fills an inverted-dropout mask: 0 with probability p, else 1/(1-p) (torch's scaling at training time).</summary>
    public static void DropoutMask(Rng rng, float probability, Span<float> mask)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (!(probability >= 0f && probability < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "dropout probability must be in [0, 1)");
        }
        float keep = 1f / (1f - probability);
        for (int i = 0; i < mask.Length; i++)
        {
            mask[i] = rng.NextFloat() < probability ? 0f : keep;
        }
    }

    /// <summary>
    /// Cross-entropy over rows of <paramref name="vocabSize"/> logits against <paramref name="targets"/>
    /// (<paramref name="ignoreIndex"/> = no target): returns the sum of -log softmax[target] (float64) and the
    /// number of counted rows. When <paramref name="logitsGradient"/> is not empty it receives
    /// += gradientScale·(softmax - onehot) on counted rows, so passing scale/count gives the gradient of the mean.
    /// </summary>
    public static unsafe double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int vocabSize, int ignoreIndex,
        float gradientScale, Span<float> logitsGradient, out int targetCount)
    {
        int rows = targets.Length;
        if (logits.Length < rows * vocabSize || (!logitsGradient.IsEmpty && logitsGradient.Length < rows * vocabSize))
        {
            throw new ArgumentException($"cross-entropy over {rows} rows of {vocabSize}: logits {logits.Length}, gradient {logitsGradient.Length}");
        }
        targetCount = 0;
        for (int r = 0; r < rows; r++)
        {
            int target = targets[r];
            if (target != ignoreIndex && (uint)target >= (uint)vocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"label {target} at row {r} is outside the vocabulary of {vocabSize} (use {ignoreIndex} for no target)");
            }
            targetCount += target == ignoreIndex ? 0 : 1;
        }
        // Rows in parallel (a GPT-2 vocabulary makes each row 50k exps); per-row losses summed in order, so the total is deterministic.
        var rowLosses = new double[rows];
        var targetArray = targets.ToArray();
        bool withGradient = !logitsGradient.IsEmpty;
        fixed (float* logitsPointer = logits, gradientPointer = logitsGradient)
        {
            nint logitsAddress = (nint)logitsPointer, gradientAddress = (nint)gradientPointer;
            Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = rows * (long)vocabSize >= 1 << 16 ? -1 : 1 }, r =>
            {
                int target = targetArray[r];
                if (target == ignoreIndex)
                {
                    return;
                }
                var row = new ReadOnlySpan<float>((float*)logitsAddress + (long)r * vocabSize, vocabSize);
                var buffer = ArrayPool<float>.Shared.Rent(vocabSize);
                var exp = buffer.AsSpan(0, vocabSize);
                float max = TensorPrimitives.Max(row);
                TensorPrimitives.Subtract(row, max, exp);
                TensorPrimitives.Exp(exp, exp);
                double sum = 0;
                foreach (float e in exp)
                {
                    sum += e;
                }
                rowLosses[r] = Math.Log(sum) - (row[target] - max);
                if (withGradient)
                {
                    var gradient = new Span<float>((float*)gradientAddress + (long)r * vocabSize, vocabSize);
                    TensorPrimitives.MultiplyAdd(exp, (float)(gradientScale / sum), gradient, gradient);
                    gradient[target] -= gradientScale;
                }
                ArrayPool<float>.Shared.Return(buffer);
            });
        }
        double total = 0;
        foreach (double loss in rowLosses)
        {
            total += loss;
        }
        return total;
    }

    private static void CheckSameLength(ReadOnlySpan<float> x, ReadOnlySpan<float> outputGradient, Span<float> inputGradient)
    {
        if (outputGradient.Length < x.Length || inputGradient.Length < x.Length)
        {
            throw new ArgumentException($"element-wise backward over {x.Length} values: output gradient {outputGradient.Length}, input gradient {inputGradient.Length}");
        }
    }
}
