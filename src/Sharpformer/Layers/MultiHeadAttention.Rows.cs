using Sharpformer.Models;

namespace Sharpformer.Layers;

public sealed partial class MultiHeadAttention
{
    /// <summary>
    /// Continuous batching: one new token for each of <paramref name="caches"/>.Count rows, row r with its own cache
    /// (its own length), so sequences that started at different times share one projection over all rows.
    /// input [rows, hidden] → output [rows, hidden]; workspace as <see cref="WorkspaceLength"/>(rows).
    /// </summary>
    public void ForwardRows(ReadOnlySpan<float> input, IReadOnlyList<KvCache> caches, int layer, Span<float> output, Memory<float> workspace)
    {
        ArgumentNullException.ThrowIfNull(caches);
        int rows = caches.Count;
        int inner = InnerWidth;
        Memory<float> queries;
        int queryStride;
        if (Fused is not null)
        {
            queries = workspace[..(rows * inner * 3)];
            Fused.Forward(input, rows, queries.Span);
            queryStride = 3 * inner;
            for (int r = 0; r < rows; r++)
            {
                var row = queries.Span.Slice(r * queryStride, queryStride);
                caches[r].Append(layer, row[inner..], row[(2 * inner)..], 1, queryStride);
            }
        }
        else
        {
            queries = workspace[..(rows * inner)];
            var k = workspace.Span.Slice(rows * inner, rows * inner);
            var v = workspace.Span.Slice(2 * rows * inner, rows * inner);
            Query!.Forward(input, rows, queries.Span);
            Key!.Forward(input, rows, k);
            Value!.Forward(input, rows, v);
            queryStride = inner;
            for (int r = 0; r < rows; r++)
            {
                caches[r].Append(layer, k.Slice(r * inner, inner), v.Slice(r * inner, inner), 1, inner);
            }
        }

        // Each row attends over its own cache: the causal query sits at the end of it, so no mask is needed.
        var heads = workspace.Slice(3 * rows * inner, rows * inner);
        for (int r = 0; r < rows; r++)
        {
            Attend(queries[(r * queryStride)..], queryStride, 1, 1, caches[r], layer, ReadOnlyMemory<int>.Empty, 0,
                ReadOnlyMemory<float>.Empty, Kind, heads[(r * inner)..]);
        }
        Output.Forward(heads.Span, rows, output);
    }
}
