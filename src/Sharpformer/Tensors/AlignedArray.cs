using System.Runtime.CompilerServices;

namespace Sharpformer.Tensors;

/// <summary>
/// A zeroed array whose first element sits on a 64-byte (cache-line) boundary: a pinned array with the few elements
/// before the boundary skipped. Packed weights live in one, so the decode kernels' 512-bit loads never split a cache
/// line (split loads stream from memory up to a third slower). Pinned arrays never move, so the boundary holds.
/// </summary>
internal sealed class AlignedArray<T> where T : unmanaged
{
    private const int Alignment = 64;
    private readonly T[] _array;
    private readonly int _offset;

    public unsafe AlignedArray(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _array = GC.AllocateArray<T>(length + Alignment / sizeof(T), pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref _array[0]);
        _offset = (int)((-address & (Alignment - 1)) / sizeof(T));
        Length = length;
    }

    public int Length { get; }

    public Span<T> Span => _array.AsSpan(_offset, Length);
}
