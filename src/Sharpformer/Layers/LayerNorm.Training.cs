using Sharpformer.Autograd;

namespace Sharpformer.Layers;

public sealed partial class LayerNorm
{
    /// <summary>Training forward over rows of <see cref="Width"/>, recording dx, dγ, dβ on the tape.</summary>
    public Variable Forward(Tape tape, Variable input)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        var output = new Variable(new float[input.Length]);
        Forward(input.Value, output.Value);
        tape.Record(() =>
        {
            if (output.HasGradient)
            {
                Kernels.Backward.LayerNorm(input.Value, Weight.Span, output.Gradient, Epsilon, Width,
                    input.Gradient, tape.ParameterGradient(Weight), tape.ParameterGradient(Bias));
            }
        });
        return output;
    }
}
