using Sharpformer.Autograd;

namespace Sharpformer.Layers;

public sealed partial class Linear
{
    /// <summary>Training forward: input [rows, InFeatures] → [rows, OutFeatures], recording dX, dW, dB on the tape.</summary>
    public Variable Forward(Tape tape, Variable input, int rows)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(input);
        if (_weight is null)
        {
            // Fail before the forward, not in backward: training needs the f32 weight an inference-only load released.
            throw ReleasedError();
        }
        if (input.Length != rows * InFeatures)
        {
            throw new ArgumentException($"linear input holds {input.Length} values; expected {rows} rows × {InFeatures}");
        }
        var output = new Variable(new float[rows * OutFeatures]);
        Forward(input.Value, rows, output.Value);
        tape.Record(() =>
        {
            if (output.HasGradient)
            {
                Kernels.Backward.Linear(input.Value, Weight.Span, output.Gradient, rows, InFeatures, OutFeatures, Layout,
                    input.Gradient, tape.ParameterGradient(Weight), tape.ParameterGradient(Bias));
            }
        });
        return output;
    }
}
