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

public sealed partial class RmsNorm
{
    /// <summary>Training forward over rows of the weight's width, recording dx and dγ on the tape.</summary>
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
                Kernels.Backward.RmsNorm(input.Value, Weight.Span, output.Gradient, Epsilon, Weight.Length, input.Gradient, tape.ParameterGradient(Weight));
            }
        });
        return output;
    }
}
