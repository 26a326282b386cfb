using Sharpformer.Autograd;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Autograd;

/// <summary>The tape's own ops and the layers' tape overloads (what BERT/BART/T5 training reuses).</summary>
public class TapeTests
{
    private static Tensor RandomTensor(Rng rng, float scale, params int[] shape)
    {
        var tensor = Tensor.Zeros(shape);
        rng.FillNormal(tensor.Span, scale);
        return tensor;
    }

    private static Variable RandomVariable(Rng rng, int length)
    {
        var value = new float[length];
        rng.FillNormal(value);
        return new Variable(value);
    }

    [Fact]
    public void TiedWeightSumsTheGradientsOfItsUses()
    {
        var rng = new Rng(1);
        var table = RandomTensor(rng, 1f, 5, 3);
        var gradient = new float[table.Length];
        var tape = new Tape(new Dictionary<Tensor, float[]>(ReferenceEqualityComparer.Instance) { [table] = gradient });
        int[] ids = [4, 1, 4];
        var embedded = tape.Embedding(table, ids);
        var head = new Linear(table, null, WeightLayout.OutputMajor); // the embedding doubles as the output head
        var logits = head.Forward(tape, tape.Scale(embedded, 0.5f), ids.Length);
        var loss = tape.CrossEntropy(logits, [0, 2, 3], 5, -100, out int count, out double mean);
        Assert.Equal(3, count);
        tape.Backward(loss);

        // Finite differences of the same composition in float64 arithmetic over the float32 table.
        double Loss()
        {
            double total = 0;
            int[] targets = [0, 2, 3];
            for (int r = 0; r < ids.Length; r++)
            {
                var scores = new double[5];
                for (int v = 0; v < 5; v++)
                {
                    for (int c = 0; c < 3; c++)
                    {
                        scores[v] += 0.5 * table.Span[ids[r] * 3 + c] * table.Span[v * 3 + c];
                    }
                }
                double max = scores.Max();
                total += Math.Log(scores.Sum(s => Math.Exp(s - max))) + max - scores[targets[r]];
            }
            return total / ids.Length;
        }
        Assert.Equal(Loss(), mean, 1e-5);
        for (int i = 0; i < table.Length; i++)
        {
            float saved = table.Span[i];
            table.Span[i] = saved + 1e-3f;
            double plus = Loss();
            table.Span[i] = saved - 1e-3f;
            double minus = Loss();
            table.Span[i] = saved;
            Assert.Equal((plus - minus) / 2e-3, gradient[i], 1e-3);
        }
        Assert.Contains(gradient.AsSpan(0, 3).ToArray(), g => g != 0f); // row 0 only reaches the loss through the head
    }

    [Fact]
    public void AddScaleAndDropoutPassGradientsBack()
    {
        var rng = new Rng(2);
        var tape = new Tape(new Dictionary<Tensor, float[]>(), new Rng(3));
        var a = RandomVariable(rng, 100);
        var b = RandomVariable(rng, 100);
        var sum = tape.Add(a, tape.Scale(b, 3f));
        var dropped = tape.Dropout(sum, 0.5f);
        Assert.Same(sum, tape.Dropout(sum, 0f));
        tape.Backward(dropped, 2f);
        for (int i = 0; i < 100; i++)
        {
            float mask = sum.Value[i] == 0f ? 0f : dropped.Value[i] / sum.Value[i];
            Assert.True(mask == 0f || Math.Abs(mask - 2f) < 1e-5f, $"mask {mask}");
            Assert.Equal(2f * mask, a.Gradient[i], 1e-5f);
            Assert.Equal(6f * mask, b.Gradient[i], 1e-5f);
        }
        Assert.Contains(a.Gradient, g => g == 0f);
        Assert.Equal(0, tape.OpCount); // backward consumed the tape
    }

    [Fact]
    public void FrozenWeightsGetNoGradientButInputsDo()
    {
        var rng = new Rng(4);
        var linear = new Linear(RandomTensor(rng, 1f, 4, 3), RandomTensor(rng, 1f, 3), WeightLayout.InputMajor);
        var tape = new Tape(new Dictionary<Tensor, float[]>());
        var input = RandomVariable(rng, 2 * 4);
        var output = linear.Forward(tape, input, 2);
        tape.Backward(output);
        Assert.Contains(input.Gradient, g => g != 0f);
        Assert.Throws<ArgumentException>(() => linear.Forward(tape, RandomVariable(rng, 7), 2));
    }

    public static TheoryData<bool, bool> AttentionVariants => new() { { true, false }, { false, true }, { false, false } };

    /// <summary>
    /// Training attention equals the inference layer (cache path) on the same weights and masks, and its gradients
    /// for the input and the score bias match finite differences.
    /// </summary>
    [Theory]
    [MemberData(nameof(AttentionVariants))]
    public void AttentionLayerMatchesInferenceAndFiniteDifferences(bool fused, bool causal)
    {
        const int batchSize = 2, tokenCount = 4, hidden = 6, heads = 2;
        var rng = new Rng(fused ? 5UL : causal ? 6UL : 7UL);
        Linear Projection(int outFeatures) => new(RandomTensor(rng, 0.5f, outFeatures, hidden), RandomTensor(rng, 0.1f, outFeatures), WeightLayout.OutputMajor);
        var kind = causal ? AttentionKind.Causal : AttentionKind.Bidirectional;
        var attention = fused
            ? MultiHeadAttention.WithFusedProjection(Projection(3 * hidden), Projection(hidden), heads, 0.6f, kind)
            : MultiHeadAttention.WithSeparateProjections(Projection(hidden), Projection(hidden), Projection(hidden), Projection(hidden), heads, 0.6f, kind);
        int rows = batchSize * tokenCount;
        var input = RandomVariable(rng, rows * hidden);
        int[] keyMask = [1, 1, 1, 1, 1, 1, 1, 0];
        var bias = fused ? null : RandomVariable(rng, heads * tokenCount * tokenCount);
        var masks = new TrainingAttentionMask { KeyMask = keyMask, ScoreBias = bias };

        var tape = new Tape(new Dictionary<Tensor, float[]>());
        var output = attention.Forward(tape, input, batchSize, tokenCount, masks);
        var expected = new float[rows * hidden];
        attention.Forward(input.Value, batchSize, tokenCount, new KvCache(1, batchSize, heads, hidden / heads, tokenCount), 0, keyMask, 0,
            bias is null ? ReadOnlyMemory<float>.Empty : bias.Value, expected, new float[attention.WorkspaceLength(rows)]);
        Goldens.AssertClose(expected, output.Value, 1e-5f, "training vs inference attention");

        var weights = new float[output.Length];
        rng.FillNormal(weights);
        Array.Copy(weights, output.Gradient, weights.Length);
        tape.Backward(new Variable([0f]), 0f); // the seed goes to an unused variable; output's gradient is already set
        double Loss()
        {
            var probe = attention.Forward(new Tape(new Dictionary<Tensor, float[]>()), input, batchSize, tokenCount, masks);
            double sum = 0;
            for (int i = 0; i < weights.Length; i++)
            {
                sum += (double)weights[i] * probe.Value[i];
            }
            return sum;
        }
        foreach (var (variable, what) in new[] { (input, "input"), (bias, "bias") })
        {
            if (variable is null)
            {
                continue;
            }
            for (int i = 0; i < variable.Length; i += 3)
            {
                float saved = variable.Value[i];
                variable.Value[i] = saved + 1e-2f;
                double plus = Loss();
                variable.Value[i] = saved - 1e-2f;
                double minus = Loss();
                variable.Value[i] = saved;
                double numeric = (plus - minus) / 2e-2;
                Assert.True(Math.Abs(numeric - variable.Gradient[i]) <= 2e-3 + 1e-2 * Math.Abs(numeric), $"{what}[{i}]: {variable.Gradient[i]} vs {numeric}");
            }
        }
    }
}
