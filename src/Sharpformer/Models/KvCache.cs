namespace Sharpformer.Models;

/// <summary>
/// past_key_values: preallocated per-layer key and value buffers, each [batch, heads, capacity, headDim].
/// Layers append the new tokens' keys and values and read back views; the model never indexes this memory itself.
/// </summary>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;
    private readonly int[] _lengths;
    private float[]? _reorderScratch;

    public KvCache(int layerCount, int batchSize, int headCount, int headDim, int capacity)
    {
        if (layerCount <= 0 || batchSize <= 0 || headCount <= 0 || headDim <= 0 || capacity <= 0)
        {
            throw new ArgumentException($"invalid cache size: {layerCount} layers, batch {batchSize}, {headCount} heads of {headDim}, capacity {capacity}");
        }
        LayerCount = layerCount;
        BatchSize = batchSize;
        HeadCount = headCount;
        HeadDim = headDim;
        Capacity = capacity;
        long perLayer = (long)batchSize * headCount * capacity * headDim;
        _keys = new float[layerCount][];
        _values = new float[layerCount][];
        for (int layer = 0; layer < layerCount; layer++)
        {
            _keys[layer] = new float[checked((int)perLayer)];
            _values[layer] = new float[checked((int)perLayer)];
        }
        _lengths = new int[layerCount];
    }

    public int LayerCount { get; }

    public int BatchSize { get; }

    public int HeadCount { get; }

    public int HeadDim { get; }

    /// <summary>Most positions the cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Positions cached (the same for every layer between forward calls).</summary>
    public int Length => _lengths[0];

    public int LayerLength(int layer) => _lengths[layer];

    /// <summary>Bytes of key and value storage per cached position, over all layers and batch rows.</summary>
    public long BytesPerToken => 2L * LayerCount * BatchSize * HeadCount * HeadDim * sizeof(float);

    /// <summary>
    /// Appends <paramref name="tokenCount"/> positions to <paramref name="layer"/>. Keys and values are
    /// [batch, tokenCount, heads·headDim] with row stride <paramref name="rowStride"/> (the projection's layout).
    /// </summary>
    public void Append(int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokenCount, int rowStride)
    {
        int start = _lengths[layer];
        if (start + tokenCount > Capacity)
        {
            throw new InvalidOperationException($"the KV cache holds {Capacity} positions; {start} are used and {tokenCount} more do not fit");
        }
        var keyStore = _keys[layer].AsSpan();
        var valueStore = _values[layer].AsSpan();
        for (int b = 0; b < BatchSize; b++)
        {
            for (int t = 0; t < tokenCount; t++)
            {
                int source = (b * tokenCount + t) * rowStride;
                for (int h = 0; h < HeadCount; h++)
                {
                    int destination = Offset(b, h, start + t);
                    keys.Slice(source + h * HeadDim, HeadDim).CopyTo(keyStore.Slice(destination, HeadDim));
                    values.Slice(source + h * HeadDim, HeadDim).CopyTo(valueStore.Slice(destination, HeadDim));
                }
            }
        }
        _lengths[layer] = start + tokenCount;
    }

    /// <summary>Keys of one (row, head): [LayerLength(layer), headDim].</summary>
    public ReadOnlyMemory<float> Keys(int layer, int batchIndex, int head) =>
        _keys[layer].AsMemory(Offset(batchIndex, head, 0), _lengths[layer] * HeadDim);

    /// <summary>Values of one (row, head): [LayerLength(layer), headDim].</summary>
    public ReadOnlyMemory<float> Values(int layer, int batchIndex, int head) =>
        _values[layer].AsMemory(Offset(batchIndex, head, 0), _lengths[layer] * HeadDim);

    /// <summary>Drops positions from <paramref name="length"/> on (speculative decoding, prompt reuse).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate a cache of {Length} positions to {length}");
        }
        Array.Fill(_lengths, length);
    }

    public void Reset() => Array.Fill(_lengths, 0);

    /// <summary>Row b becomes old row <paramref name="rowIndices"/>[b] in every layer (beam search).</summary>
    public void Reorder(ReadOnlySpan<int> rowIndices)
    {
        if (rowIndices.Length != BatchSize)
        {
            throw new ArgumentException($"reorder needs {BatchSize} row indices, got {rowIndices.Length}");
        }
        bool identity = true;
        for (int b = 0; b < rowIndices.Length; b++)
        {
            if ((uint)rowIndices[b] >= (uint)BatchSize)
            {
                throw new ArgumentOutOfRangeException(nameof(rowIndices), $"row index {rowIndices[b]} is outside the batch of {BatchSize}");
            }
            identity &= rowIndices[b] == b;
        }
        if (identity)
        {
            return;
        }
        int rowSize = HeadCount * Capacity * HeadDim;
        _reorderScratch ??= new float[_keys[0].Length];
        var copy = _reorderScratch;
        for (int layer = 0; layer < LayerCount; layer++)
        {
            int used = _lengths[layer] * HeadDim;
            foreach (var store in (float[][])[_keys[layer], _values[layer]])
            {
                store.AsSpan().CopyTo(copy);
                for (int b = 0; b < BatchSize; b++)
                {
                    for (int h = 0; h < HeadCount; h++)
                    {
                        copy.AsSpan(rowIndices[b] * rowSize + h * Capacity * HeadDim, used)
                            .CopyTo(store.AsSpan(b * rowSize + h * Capacity * HeadDim, used));
                    }
                }
            }
        }
    }

    private int Offset(int batchIndex, int head, int position) => ((batchIndex * HeadCount + head) * Capacity + position) * HeadDim;
}
