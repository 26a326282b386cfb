namespace Sharpformer.Kernels;

/// <summary>Embedding lookups: rows of a [count, width] table.</summary>
public static class Embedding
{
    /// <summary>output[i] = table[ids[i]]; ids outside the table throw, naming the id and the table size.</summary>
    public static void Lookup(ReadOnlySpan<float> table, int width, ReadOnlySpan<int> ids, Span<float> output)
    {
        int count = table.Length / width;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)count)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} at index {i} is outside the embedding table of {count} rows");
            }
            table.Slice(id * width, width).CopyTo(output.Slice(i * width, width));
        }
    }

    /// <summary>output[i] += table[ids[i]] (position and token-type embeddings are added to token embeddings).</summary>
    public static void LookupAdd(ReadOnlySpan<float> table, int width, ReadOnlySpan<int> ids, Span<float> output)
    {
        int count = table.Length / width;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)count)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"index {id} at position {i} is outside the embedding table of {count} rows");
            }
            System.Numerics.Tensors.TensorPrimitives.Add(output.Slice(i * width, width), table.Slice(id * width, width), output.Slice(i * width, width));
        }
    }

    /// <summary>
    /// output[i] = widen(table[ids[i]]) for a bf16 [count, width] table packed as <see cref="MatMulBf16.Pack"/> writes it
    /// (<see cref="LowPrecisionLayout"/>, width = in features); exact: bf16 is the top half of a float32.
    /// </summary>
    public static void LookupBFloat16(ReadOnlySpan<ushort> table, int width, ReadOnlySpan<int> ids, Span<float> output)
    {
        int count = table.Length / width;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = CheckId(ids, i, count);
            var destination = output.Slice(i * width, width);
            foreach (var segment in LowPrecisionLayout.Segments(id, width, count))
            {
                IO.Float16.BFloat16ToSingle(table.Slice(checked((int)segment.Offset), segment.Length), destination.Slice(segment.K, segment.Length));
            }
        }
    }

    /// <summary>output[i] = table[ids[i]] for a float32 [count, width] table packed as <see cref="MatMulF32Packed.Pack"/> writes it.</summary>
    public static void LookupPacked(ReadOnlySpan<float> table, int width, ReadOnlySpan<int> ids, Span<float> output)
    {
        int count = table.Length / width;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = CheckId(ids, i, count);
            LowPrecisionLayout.GatherRow(table, output.Slice(i * width, width), id, width, count);
        }
    }

    /// <summary>
    /// output[i] = table[ids[i]] · scales[ids[i]] for an int8 [count, width] table with one scale per row, packed as
    /// <see cref="MatMulInt8.Quantize"/> writes it (<see cref="LowPrecisionLayout"/>, width = in features).
    /// </summary>
    public static void LookupInt8(ReadOnlySpan<sbyte> table, ReadOnlySpan<float> scales, int width, ReadOnlySpan<int> ids, Span<float> output)
    {
        int count = table.Length / width;
        if (scales.Length != count)
        {
            throw new ArgumentException($"scales hold {scales.Length} floats, expected one per table row ({count})", nameof(scales));
        }
        for (int i = 0; i < ids.Length; i++)
        {
            int id = CheckId(ids, i, count);
            var destination = output.Slice(i * width, width);
            float scale = scales[id];
            foreach (var segment in LowPrecisionLayout.Segments(id, width, count))
            {
                var codes = table.Slice(checked((int)segment.Offset), segment.Length);
                for (int k = 0; k < codes.Length; k++)
                {
                    destination[segment.K + k] = codes[k] * scale;
                }
            }
        }
    }

    private static int CheckId(ReadOnlySpan<int> ids, int index, int count)
    {
        int id = ids[index];
        if ((uint)id >= (uint)count)
        {
            throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} at index {index} is outside the embedding table of {count} rows");
        }
        return id;
    }
}
