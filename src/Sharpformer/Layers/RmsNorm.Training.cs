using Sharpformer.Autograd;

namespace Sharpformer.Layers;

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
                Kernels.BackwardOps.RmsNorm(input.Value, Weight.Span, output.Gradient, Epsilon, Weight.Length,
                    input.Gradient, tape.ParameterGradient(Weight));
            }
        });
        return output;
    }
}
