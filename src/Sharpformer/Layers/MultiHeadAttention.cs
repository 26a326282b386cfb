using Sharpformer.Kernels;
using Sharpformer.Models;

namespace Sharpformer.Layers;

/// <summary>
/// Multi-head self-attention with a KV cache: project q, k, v (one fused matrix as GPT-2's c_attn, or three),
/// append k and v to the cache, attend each (row, head) over the cached keys, project the heads back.
/// The mask kind (causal or bidirectional) and an optional local window are the only differences between
/// GPT's decoder attention and BERT's encoder attention.
/// </summary>
public sealed partial class MultiHeadAttention
{
    [ThreadStatic]
    private static float[]? t_scores;

    private MultiHeadAttention(Linear? fused, Linear? query, Linear? key, Linear? value, Linear output, int headCount, int headDim, float scale, AttentionKind kind)
    {
        Fused = fused;
        Query = query;
        Key = key;
        Value = value;
        Output = output;
        HeadCount = headCount;
        HeadDim = headDim;
        Scale = scale;
        Kind = kind;
    }

    /// <summary>One [hidden → 3·hidden] projection whose output rows are q | k | v (GPT-2 c_attn).</summary>
    public static MultiHeadAttention WithFusedProjection(Linear fused, Linear output, int headCount, float scale, AttentionKind kind)
    {
        int hidden = fused.OutFeatures / 3;
        if (hidden * 3 != fused.OutFeatures || hidden % headCount != 0)
        {
            throw new ArgumentException($"fused projection of {fused.OutFeatures} outputs does not split into 3 × {headCount} heads");
        }
        return new MultiHeadAttention(fused, null, null, null, output, headCount, hidden / headCount, scale, kind);
    }

    public static MultiHeadAttention WithSeparateProjections(Linear query, Linear key, Linear value, Linear output, int headCount, float scale, AttentionKind kind)
    {
        if (query.OutFeatures % headCount != 0)
        {
            throw new ArgumentException($"{query.OutFeatures} query features do not split into {headCount} heads");
        }
        return new MultiHeadAttention(null, query, key, value, output, headCount, query.OutFeatures / headCount, scale, kind);
    }

    public Linear? Fused { get; }

    public Linear? Query { get; }

    public Linear? Key { get; }

    public Linear? Value { get; }

    public Linear Output { get; }

    public int HeadCount { get; }

    public int HeadDim { get; }

    public float Scale { get; }

    public AttentionKind Kind { get; }

    /// <summary>0 = every visible key; N = only the last N keys up to the query (GPT-Neo local layers).</summary>
    public int LocalWindow { get; init; }

    /// <summary>The same attention restricted to the last <paramref name="window"/> keys (0 = unrestricted).</summary>
    public MultiHeadAttention WithLocalWindow(int window) =>
        window >= 0
            ? new MultiHeadAttention(Fused, Query, Key, Value, Output, HeadCount, HeadDim, Scale, Kind) { LocalWindow = window }
            : throw new ArgumentOutOfRangeException(nameof(window), $"a local window must be ≥ 0, got {window}");

    public int InnerWidth => HeadCount * HeadDim;

    /// <summary>Floats of workspace <see cref="Forward"/> needs for <paramref name="rows"/> rows.</summary>
    public int WorkspaceLength(int rows) => rows * InnerWidth * 4;

    /// <summary>
    /// input [batch·tokenCount, hidden] → output [batch·tokenCount, hidden]. The new keys and values go into
    /// <paramref name="cache"/> layer <paramref name="layer"/>; <paramref name="attentionMask"/> is
    /// [batch, cacheLength + tokenCount] (1 = attend, 0 = padding) or empty for no padding; its rows are
    /// <paramref name="maskRowStride"/> apart (0 = packed), so a session can keep one mask of cache capacity.
    /// </summary>
    public void Forward(ReadOnlySpan<float> input, int batchSize, int tokenCount, KvCache cache, int layer,
        ReadOnlyMemory<int> attentionMask, int maskRowStride, Span<float> output, Memory<float> workspace) =>
        Forward(input, batchSize, tokenCount, cache, layer, attentionMask, maskRowStride, ReadOnlyMemory<float>.Empty, output, workspace);

    /// <summary>
    /// As above, with <paramref name="positionBias"/> (empty = none) added to the scores: [heads, tokenCount, keyCount],
    /// shared by every batch row (T5's relative position bias).
    /// </summary>
    public void Forward(ReadOnlySpan<float> input, int batchSize, int tokenCount, KvCache cache, int layer,
        ReadOnlyMemory<int> attentionMask, int maskRowStride, ReadOnlyMemory<float> positionBias, Span<float> output, Memory<float> workspace)
    {
        int rows = batchSize * tokenCount;
        int inner = InnerWidth;
        var workspaceSpan = workspace.Span;
        Memory<float> queries;
        int queryStride;
        if (Fused is not null)
        {
            var qkv = workspace[..(rows * inner * 3)];
            Fused.Forward(input, rows, qkv.Span);
            cache.Append(layer, qkv.Span[inner..], qkv.Span[(2 * inner)..], tokenCount, 3 * inner);
            queries = qkv;
            queryStride = 3 * inner;
        }
        else
        {
            var q = workspace[..(rows * inner)];
            var k = workspaceSpan.Slice(rows * inner, rows * inner);
            var v = workspaceSpan.Slice(2 * rows * inner, rows * inner);
            Query!.Forward(input, rows, q.Span);
            Key!.Forward(input, rows, k);
            Value!.Forward(input, rows, v);
            cache.Append(layer, k, v, tokenCount, inner);
            queries = q;
            queryStride = inner;
        }

        var heads = workspace.Slice(3 * rows * inner, rows * inner);
        Attend(queries, queryStride, batchSize, tokenCount, cache, layer, attentionMask, maskRowStride, positionBias, Kind, heads);
        Output.Forward(heads.Span, rows, output);
    }

    /// <summary>
    /// Cross-attention, first half: projects the encoder output [batch·sourceLength, hidden] into keys and values and
    /// appends them to <paramref name="crossCache"/> layer <paramref name="layer"/>, once per generation.
    /// <paramref name="workspace"/> holds 2·batch·sourceLength·InnerWidth floats.
    /// </summary>
    public void ProjectMemory(ReadOnlySpan<float> encoderOutput, int batchSize, int sourceLength, KvCache crossCache, int layer, Span<float> workspace)
    {
        int rows = batchSize * sourceLength;
        var k = workspace[..(rows * InnerWidth)];
        var v = workspace.Slice(rows * InnerWidth, rows * InnerWidth);
        Key!.Forward(encoderOutput, rows, k);
        Value!.Forward(encoderOutput, rows, v);
        crossCache.Append(layer, k, v, sourceLength, InnerWidth);
    }

    /// <summary>
    /// Cross-attention, second half: queries from <paramref name="input"/> attend (bidirectionally) over the cached
    /// encoder keys and values; <paramref name="sourceMask"/> is [batch, sourceLength] (empty = no padding).
    /// </summary>
    public void ForwardCross(ReadOnlySpan<float> input, int batchSize, int tokenCount, KvCache crossCache, int layer,
        ReadOnlyMemory<int> sourceMask, Span<float> output, Memory<float> workspace)
    {
        int rows = batchSize * tokenCount;
        var queries = workspace[..(rows * InnerWidth)];
        var heads = workspace.Slice(rows * InnerWidth, rows * InnerWidth);
        Query!.Forward(input, rows, queries.Span);
        Attend(queries, InnerWidth, batchSize, tokenCount, crossCache, layer, sourceMask, 0, ReadOnlyMemory<float>.Empty, AttentionKind.Bidirectional, heads);
        Output.Forward(heads.Span, rows, output);
    }

    private void Attend(ReadOnlyMemory<float> queries, int queryStride, int batchSize, int tokenCount, KvCache cache, int layer,
        ReadOnlyMemory<int> attentionMask, int maskRowStride, ReadOnlyMemory<float> positionBias, AttentionKind kind, Memory<float> heads)
    {
        int inner = InnerWidth;
        int keyCount = cache.LayerLength(layer);
        // A local layer's cache may have dropped keys before keyStart; the mask still covers every position.
        int keyStart = cache.LayerStart(layer);
        int queryOffset = keyCount - tokenCount;
        int maskStride = maskRowStride == 0 ? keyStart + keyCount : maskRowStride;
        if (!attentionMask.IsEmpty && (maskStride < keyStart + keyCount || attentionMask.Length < (batchSize - 1) * maskStride + keyStart + keyCount))
        {
            throw new ArgumentException(
                $"attention mask holds {attentionMask.Length} values; [batch {batchSize}, keys {keyStart + keyCount}] needs {batchSize * (keyStart + keyCount)}");
        }
        if (!positionBias.IsEmpty && positionBias.Length != HeadCount * tokenCount * keyCount)
        {
            throw new ArgumentException($"position bias holds {positionBias.Length} values; [heads {HeadCount}, {tokenCount}, {keyCount}] needs {HeadCount * tokenCount * keyCount}");
        }
        int headCount = HeadCount, headDim = HeadDim, window = LocalWindow;
        float scale = Scale;
        void AttendOne(int index)
        {
            int b = index / headCount, h = index % headCount;
            var scores = t_scores is { } buffer && buffer.Length >= keyCount ? buffer : (t_scores = new float[Math.Max(keyCount, 256)]);
            var mask = attentionMask.IsEmpty ? ReadOnlySpan<int>.Empty : attentionMask.Span.Slice(b * maskStride + keyStart, keyCount);
            var bias = positionBias.IsEmpty ? ReadOnlySpan<float>.Empty : positionBias.Span.Slice(h * tokenCount * keyCount, tokenCount * keyCount);
            Attention.Head(queries.Span.Slice(b * tokenCount * queryStride + h * headDim), queryStride,
                cache.Keys(layer, b, h).Span, cache.Values(layer, b, h).Span, mask, bias,
                tokenCount, keyCount, headDim, scale, kind, queryOffset, window,
                heads.Span.Slice(b * tokenCount * inner + h * headDim), inner, scores);
        }
        int work = batchSize * headCount;
        // Threads pay off once the heads read more than a few KiB of keys: in decode the cache comes from memory (the
        // weights streamed since the last token evicted it), so even a short one takes a thread 20 µs a GPT-2 layer;
        // split over both threads, GPT-2 int8 decode ran 4% faster (hand-off costs under a microsecond).
        if ((long)tokenCount * keyCount * headDim * work >= 1 << 12)
        {
            KernelThreads.Run(AttendOne, work);
        }
        else
        {
            for (int index = 0; index < work; index++)
            {
                AttendOne(index);
            }
        }
    }
}
