using Sharpformer.Autograd;

namespace Sharpformer.Layers;

public sealed partial class FeedForward
{
    /// <summary>Training forward: down(act(up(x))) on the tape; input [rows, hidden].</summary>
    public Variable Forward(Tape tape, Variable input, int rows)
    {
        var inner = Up.Forward(tape, input, rows);
        return Down.Forward(tape, Activate(tape, Activation, inner), rows);
    }

    /// <summary>An activation as a tape op: the backward reads the saved pre-activation.</summary>
    public static Variable Activate(Tape tape, Activation activation, Variable input)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        var output = new Variable(new float[input.Length]);
        ActivationNames.Apply(activation, input.Value, output.Value, new float[input.Length]);
        tape.Record(() =>
        {
            if (!output.HasGradient)
            {
                return;
            }
            switch (activation)
            {
                case Activation.GeluTanh:
                    Kernels.Backward.GeluTanh(input.Value, output.Gradient, input.Gradient);
                    break;
                case Activation.Gelu:
                    Kernels.Backward.GeluErf(input.Value, output.Gradient, input.Gradient);
                    break;
                case Activation.Relu:
                    Kernels.Backward.Relu(input.Value, output.Gradient, input.Gradient);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(activation));
            }
        });
        return output;
    }
}
