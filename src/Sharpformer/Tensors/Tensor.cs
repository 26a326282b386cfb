using System.Runtime.InteropServices;

namespace Sharpformer.Tensors;

/// <summary>A row-major float32 tensor: a shape over a block of memory (owned, pooled or a memory-mapped view).</summary>
public sealed class Tensor
{
    public Tensor(Memory<float> memory, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long count = ElementCount(shape);
        if (count != memory.Length)
        {
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] needs {count} elements but the memory holds {memory.Length}");
        }
        Shape = shape;
        Memory = memory;
    }

    /// <summary>Dimensions, outermost first.</summary>
    public int[] Shape { get; }

    public Memory<float> Memory { get; }

    public Span<float> Span => Memory.Span;

    public int Length => Memory.Length;

    public int Rank => Shape.Length;

    public static Tensor Zeros(params int[] shape) => new(new float[checked((int)ElementCount(shape))], shape);

    public static Tensor FromArray(float[] data, params int[] shape) => new(data, shape);

    /// <summary>The same memory under another shape with the same element count.</summary>
    public Tensor Reshape(params int[] shape) => new(Memory, shape);

    /// <summary>Row <paramref name="index"/> along the first dimension, as a view.</summary>
    public Tensor Row(int index)
    {
        int rowLength = Length / Shape[0];
        return new Tensor(Memory.Slice(index * rowLength, rowLength), Shape[1..]);
    }

    public float[] ToArray() => Memory.ToArray();

    public override string ToString() => $"Tensor[{string.Join(", ", Shape)}]";

    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int dimension in shape)
        {
            if (dimension < 0)
            {
                throw new ArgumentException($"negative dimension {dimension} in shape [{string.Join(", ", shape.ToArray())}]");
            }
            count *= dimension;
        }
        return count;
    }

    public static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    internal static Span<float> AsFloats(Span<byte> bytes) => MemoryMarshal.Cast<byte, float>(bytes);
}
