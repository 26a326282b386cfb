using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Layers;

/// <summary>
/// A token embedding table [vocab, hidden]: its own float32 tensor, or the rows of the output head it is tied to.
/// Tied, the lookup reads whatever copy the head multiplies by, so a bf16/int8 model keeps no f32 table (the head
/// released it). Untied tables stay float32 whatever the load's weight type, as llama.cpp keeps token embeddings.
/// </summary>
public sealed class TokenEmbedding
{
    private readonly Tensor? _table;
    private readonly Linear? _head;

    private TokenEmbedding(Tensor? table, Linear? head)
    {
        _table = table;
        _head = head;
    }

    /// <summary>An embedding with its own table [vocab, hidden].</summary>
    public static TokenEmbedding Untied(Tensor table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Rank != 2)
        {
            throw new ArgumentException($"an embedding table must be 2-D, got {table}", nameof(table));
        }
        return new TokenEmbedding(table, null);
    }

    /// <summary>An embedding that reads the rows of <paramref name="head"/>'s [vocab, hidden] weight.</summary>
    public static TokenEmbedding TiedTo(Linear head)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (head.Layout != WeightLayout.OutputMajor)
        {
            throw new ArgumentException($"a tied head must store its weight [vocab, hidden] (OutputMajor), got {head.Layout}", nameof(head));
        }
        return new TokenEmbedding(null, head);
    }

    public bool IsTied => _head is not null;

    public int Width => _head?.InFeatures ?? _table!.Shape[1];

    /// <summary>The float32 table, for training and export; throws (saying why) when a low-precision load released it.</summary>
    public Tensor Table => _table ?? _head!.Weight;

    /// <summary>output[i] = row ids[i]; ids outside the vocabulary throw, naming the id.</summary>
    public void Lookup(ReadOnlySpan<int> ids, Span<float> output)
    {
        if (_head is not null)
        {
            _head.LookupRows(ids, output);
        }
        else
        {
            Embedding.Lookup(_table!.Span, Width, ids, output);
        }
    }
}
