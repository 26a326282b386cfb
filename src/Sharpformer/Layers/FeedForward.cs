using Sharpformer.Kernels;

namespace Sharpformer.Layers;

/// <summary>Activation functions a config may name ("activation_function", "hidden_act", "dense_act_fn").</summary>
public enum Activation
{
    GeluTanh,
    Gelu,
    Relu,
}

public static class ActivationNames
{
    /// <summary>Maps HF's names; unknown names are refused, naming the value.</summary>
    public static Activation Parse(string? name, string source) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => Activation.GeluTanh,
        "gelu" => Activation.Gelu,
        "relu" => Activation.Relu,
        _ => throw new IO.CheckpointException($"{source}: unsupported activation function '{name}' (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)"),
    };

    public static void Apply(Activation activation, ReadOnlySpan<float> x, Span<float> y, Span<float> scratch)
    {
        switch (activation)
        {
            case Activation.GeluTanh:
                Activations.GeluTanh(x, y, scratch);
                break;
            case Activation.Gelu:
                Activations.GeluErf(x, y);
                break;
            case Activation.Relu:
                Activations.Relu(x, y);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation));
        }
    }
}

/// <summary>Position-wise MLP: down(act(up(x))).</summary>
public sealed partial class FeedForward
{
    public FeedForward(Linear up, Linear down, Activation activation)
    {
        Up = up;
        Down = down;
        Activation = activation;
    }

    public Linear Up { get; }

    public Linear Down { get; }

    public Activation Activation { get; }

    /// <summary>input [rows, hidden] → output [rows, hidden]; <paramref name="workspace"/> holds 2·rows·inner floats.</summary>
    public void Forward(ReadOnlySpan<float> input, int rows, Span<float> output, Span<float> workspace)
    {
        int innerLength = rows * Up.OutFeatures;
        var inner = workspace[..innerLength];
        var scratch = workspace.Slice(innerLength, innerLength);
        Up.Forward(input, rows, inner);
        ActivationNames.Apply(Activation, inner, inner, scratch);
        Down.Forward(inner, rows, output);
    }
}
