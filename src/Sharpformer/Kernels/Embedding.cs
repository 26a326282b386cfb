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
}
