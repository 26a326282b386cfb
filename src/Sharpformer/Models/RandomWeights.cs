using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>Weights for a model built without a checkpoint (benchmarks, property tests): N(0, scale) matrices, unit norms, zero biases.</summary>
public static class RandomWeights
{
    public static Func<string, int[], Tensor> Create(ulong seed, float scale = 0.02f)
    {
        var rng = new Rng(seed);
        return (name, shape) =>
        {
            var tensor = Tensor.Zeros(shape);
            // "*.bias" and BART's final_logits_bias start at zero.
            if (name.EndsWith("bias", StringComparison.Ordinal))
            {
                return tensor;
            }
            if (shape.Length == 1)
            {
                tensor.Span.Fill(1f);
            }
            else
            {
                rng.FillNormal(tensor.Span, scale);
            }
            return tensor;
        };
    }
}
