using System.Runtime.CompilerServices;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Kernels;

public class AlignedArrayTests
{
    [Fact]
    public unsafe void SpansStartOnACacheLineAndHoldTheLengthAskedForZeroed()
    {
        // Many allocations, so the pinned heap hands out addresses at every offset within a cache line.
        foreach (int length in new[] { 1, 3, 17, 64, 1000 })
        {
            for (int i = 0; i < 16; i++)
            {
                CheckOne(new AlignedArray<float>(length), length);
                CheckOne(new AlignedArray<ushort>(length), length);
                CheckOne(new AlignedArray<sbyte>(length + i), length + i);
            }
        }
        Assert.Equal(0, new AlignedArray<float>(0).Span.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedArray<float>(-1));
    }

    private static unsafe void CheckOne<T>(AlignedArray<T> array, int length) where T : unmanaged
    {
        var span = array.Span;
        Assert.Equal(length, span.Length);
        Assert.Equal(0, (nint)Unsafe.AsPointer(ref span[0]) % 64);
        foreach (var value in span)
        {
            Assert.Equal(default, value);
        }
    }
}
