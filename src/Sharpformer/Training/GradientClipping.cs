using System.Numerics.Tensors;

namespace Sharpformer.Training;

/// <summary>torch.nn.utils.clip_grad_norm_ over all parameters' gradients (L2).</summary>
public static class GradientClipping
{
    /// <summary>The L2 norm of all gradients together (float64 accumulation).</summary>
    public static double TotalNorm(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        double sumOfSquares = 0;
        foreach (var parameter in parameters)
        {
            // Per-parameter float32 sums, as torch takes one norm per tensor before the norm of norms.
            double norm = TensorPrimitives.Norm<float>(parameter.Gradient);
            sumOfSquares += norm * norm;
        }
        return Math.Sqrt(sumOfSquares);
    }

    /// <summary>
    /// If the total norm exceeds <paramref name="maxNorm"/>, scales every gradient by maxNorm / (total + 1e-6), as torch
    /// does. Returns the norm before clipping (what torch returns).
    /// </summary>
    public static double ClipByTotalNorm(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"the clipping norm must be positive (got {maxNorm})");
        }
        double total = TotalNorm(parameters);
        double coefficient = maxNorm / (total + 1e-6);
        if (coefficient < 1)
        {
            foreach (var parameter in parameters)
            {
                TensorPrimitives.Multiply(parameter.Gradient, (float)coefficient, parameter.Gradient);
            }
        }
        return total;
    }
}
