namespace Sharpformer.Models;

/// <summary>
/// past_key_values: preallocated per-layer key and value buffers, each [batch, heads, capacity, headDim].
/// Layers append the new tokens' keys and values and read back views; the model never indexes this memory itself.
/// A layer with a local window (GPT-Neo) keeps only the keys its next query can see: it slides its buffer left
/// when full, so it holds O(window) positions and <see cref="LayerStart"/> tells where its held range begins.
/// </summary>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;
    private readonly int[] _lengths;
    private readonly int[] _starts;          // absolute index of each layer's first held position
    private readonly int[] _windows;         // 0 = keep everything; N = a local layer that needs only N keys
    private readonly int[] _layerCapacities; // positions each layer's buffer holds
    private float[]? _reorderScratch;

    /// <summary>
    /// <paramref name="layerWindows"/> (null = none): per layer, 0 to keep every position or N for a local-attention
    /// layer whose queries see only the last N keys; such a layer stores about 2·N positions instead of <paramref name="capacity"/>.
    /// </summary>
    public KvCache(int layerCount, int batchSize, int headCount, int headDim, int capacity, IReadOnlyList<int>? layerWindows = null)
    {
        if (layerCount <= 0 || batchSize <= 0 || headCount <= 0 || headDim <= 0 || capacity <= 0)
        {
            throw new ArgumentException($"invalid cache size: {layerCount} layers, batch {batchSize}, {headCount} heads of {headDim}, capacity {capacity}");
        }
        if (layerWindows is not null && (layerWindows.Count != layerCount || layerWindows.Any(window => window < 0)))
        {
            throw new ArgumentException($"layer windows need {layerCount} values ≥ 0, got [{string.Join(", ", layerWindows)}]");
        }
        LayerCount = layerCount;
        BatchSize = batchSize;
        HeadCount = headCount;
        HeadDim = headDim;
        Capacity = capacity;
        _windows = layerWindows?.ToArray() ?? new int[layerCount];
        _layerCapacities = new int[layerCount];
        _keys = new float[layerCount][];
        _values = new float[layerCount][];
        for (int layer = 0; layer < layerCount; layer++)
        {
            // Twice the window: sliding then costs one copy of window-1 positions every window appends.
            _layerCapacities[layer] = _windows[layer] > 0 ? Math.Min(capacity, 2 * _windows[layer]) : capacity;
            _keys[layer] = new float[LayerBufferLength(_layerCapacities[layer])];
            _values[layer] = new float[LayerBufferLength(_layerCapacities[layer])];
        }
        _lengths = new int[layerCount];
        _starts = new int[layerCount];
    }

    public int LayerCount { get; }

    public int BatchSize { get; }

    public int HeadCount { get; }

    public int HeadDim { get; }

    /// <summary>Most positions the cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Positions cached (the same for every layer between forward calls).</summary>
    public int Length => _lengths[0];

    /// <summary>Positions <paramref name="layer"/> holds: all of them, or the tail a local layer keeps.</summary>
    public int LayerLength(int layer) => _lengths[layer] - _starts[layer];

    /// <summary>Absolute index of the first position <paramref name="layer"/> holds (0 unless a local layer slid).</summary>
    public int LayerStart(int layer) => _starts[layer];

    /// <summary>The local window of <paramref name="layer"/> (0 = keeps every position).</summary>
    public int LayerWindow(int layer) => _windows[layer];

    /// <summary>Bytes of key and value storage allocated now, over all layers.</summary>
    public long AllocatedBytes => _keys.Sum(buffer => 2L * buffer.Length * sizeof(float));

    /// <summary>Bytes of key and value storage per cached position, over all layers and batch rows.</summary>
    public long BytesPerToken => 2L * LayerCount * BatchSize * HeadCount * HeadDim * sizeof(float);

    /// <summary>Empties the cache for reuse: every layer back to no positions (the buffers stay allocated).</summary>
    public void Clear()
    {
        Array.Clear(_lengths);
        Array.Clear(_starts);
    }

    /// <summary>
    /// Appends <paramref name="tokenCount"/> positions to <paramref name="layer"/>. Keys and values are
    /// [batch, tokenCount, heads·headDim] with row stride <paramref name="rowStride"/> (the projection's layout).
    /// </summary>
    public void Append(int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokenCount, int rowStride)
    {
        int length = _lengths[layer];
        if (length + tokenCount > Capacity)
        {
            throw new InvalidOperationException($"the KV cache holds {Capacity} positions; {length} are used and {tokenCount} more do not fit");
        }
        int start = LayerLength(layer);
        if (start + tokenCount > _layerCapacities[layer])
        {
            start = Slide(layer, tokenCount);
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
                    int destination = Offset(layer, b, h, start + t);
                    keys.Slice(source + h * HeadDim, HeadDim).CopyTo(keyStore.Slice(destination, HeadDim));
                    values.Slice(source + h * HeadDim, HeadDim).CopyTo(valueStore.Slice(destination, HeadDim));
                }
            }
        }
        _lengths[layer] = length + tokenCount;
    }

    /// <summary>
    /// Local layer full: keep the last window-1 positions (all the next query can see besides itself), moved to the
    /// front, growing the buffer for a long prefill and shrinking it back after. Returns the new held count.
    /// </summary>
    private int Slide(int layer, int tokenCount)
    {
        int window = _windows[layer];
        if (window == 0)
        {
            throw new InvalidOperationException($"layer {layer} of the KV cache is full ({_layerCapacities[layer]} positions)");
        }
        int held = LayerLength(layer);
        int keep = Math.Min(held, window - 1);
        int capacity = Math.Max(Math.Min(Capacity, 2 * window), keep + tokenCount);
        Relayout(layer, capacity, held - keep, keep);
        _starts[layer] += held - keep;
        return keep;
    }

    /// <summary>Moves held positions [from, from+count) of every (row, head) to the front of a buffer of <paramref name="capacity"/> positions.</summary>
    private void Relayout(int layer, int capacity, int from, int count)
    {
        int oldCapacity = _layerCapacities[layer];
        foreach (var store in (float[][][])[_keys, _values])
        {
            var source = store[layer];
            var destination = capacity == oldCapacity ? source : new float[LayerBufferLength(capacity)];
            for (int row = 0; row < BatchSize * HeadCount; row++)
            {
                // Overlapping spans copy like memmove, so sliding in place is safe.
                source.AsSpan((row * oldCapacity + from) * HeadDim, count * HeadDim).CopyTo(destination.AsSpan(row * capacity * HeadDim));
            }
            store[layer] = destination;
        }
        _layerCapacities[layer] = capacity;
    }

    /// <summary>Keys of one (row, head): [LayerLength(layer), headDim].</summary>
    public ReadOnlyMemory<float> Keys(int layer, int batchIndex, int head) =>
        _keys[layer].AsMemory(Offset(layer, batchIndex, head, 0), LayerLength(layer) * HeadDim);

    /// <summary>Values of one (row, head): [LayerLength(layer), headDim].</summary>
    public ReadOnlyMemory<float> Values(int layer, int batchIndex, int head) =>
        _values[layer].AsMemory(Offset(layer, batchIndex, head, 0), LayerLength(layer) * HeadDim);

    /// <summary>Drops positions from <paramref name="length"/> on (speculative decoding, prompt reuse).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate a cache of {Length} positions to {length}");
        }
        for (int layer = 0; layer < LayerCount; layer++)
        {
            // A local layer must still hold the window before the cut, or the next query would miss keys.
            if (length - _starts[layer] < Math.Min(length, Math.Max(_windows[layer] - 1, 0)))
            {
                throw new ArgumentOutOfRangeException(nameof(length),
                    $"layer {layer} keeps only positions {_starts[layer]}..{_lengths[layer] - 1} (local window {_windows[layer]}); cannot truncate to {length}");
            }
        }
        Array.Fill(_lengths, length);
    }

    public void Reset()
    {
        Array.Fill(_lengths, 0);
        Array.Fill(_starts, 0);
    }

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
        for (int layer = 0; layer < LayerCount; layer++)
        {
            int layerCapacity = _layerCapacities[layer];
            int rowSize = HeadCount * layerCapacity * HeadDim;
            int used = LayerLength(layer) * HeadDim;
            foreach (var store in (float[][])[_keys[layer], _values[layer]])
            {
                if (_reorderScratch is null || _reorderScratch.Length < store.Length)
                {
                    _reorderScratch = new float[store.Length];
                }
                var copy = _reorderScratch;
                store.AsSpan().CopyTo(copy);
                for (int b = 0; b < BatchSize; b++)
                {
                    for (int h = 0; h < HeadCount; h++)
                    {
                        copy.AsSpan(rowIndices[b] * rowSize + h * layerCapacity * HeadDim, used)
                            .CopyTo(store.AsSpan(b * rowSize + h * layerCapacity * HeadDim, used));
                    }
                }
            }
        }
    }

    private int Offset(int layer, int batchIndex, int head, int position) =>
        ((batchIndex * HeadCount + head) * _layerCapacities[layer] + position) * HeadDim;

    private int LayerBufferLength(int capacity) => checked(BatchSize * HeadCount * capacity * HeadDim);
}
