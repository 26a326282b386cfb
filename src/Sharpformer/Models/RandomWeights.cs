using Sharpformer.Tensors;

namespace Sharpformer.Models;

/// <summary>Weights for a model built without a checkpoint (benchmarks, property tests): N(0, 0.02) matrices, unit norms, zero biases.</summary>
public static class RandomWeights
{
    public static Func<string, int[], Tensor> Create(ulong seed)
    {
        var rng = new Rng(seed);
        return (name, shape) =>
        {
            var tensor = Tensor.Zeros(shape);
            if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                return tensor;
            }
            if (shape.Length == 1)
            {
                tensor.Span.Fill(1f);
            }
            else
            {
                rng.FillNormal(tensor.Span, 0.02f);
            }
            return tensor;
        };
    }
}
