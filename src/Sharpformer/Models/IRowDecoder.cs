namespace Sharpformer.Models;

/// <summary>
/// A decoder-only model whose sequences can share decode steps while each keeps its own cache: continuous batching
/// (sequences join after their own prefill and leave when done, at any step). Encoder-decoders do not offer it.
/// </summary>
public interface IRowBatchingModel : ILanguageModel
{
    /// <summary>A decoder with its own reusable buffers: use one from one thread at a time.</summary>
    IRowDecoder CreateRowDecoder();
}

/// <summary>Prefill one sequence into its cache, then step any set of sequences together, one token each.</summary>
public interface IRowDecoder
{
    int VocabSize { get; }

    /// <summary>An empty cache for one sequence of up to <paramref name="capacity"/> positions.</summary>
    KvCache CreateCache(int capacity);

    /// <summary>
    /// Runs one unpadded prompt into <paramref name="cache"/>. Writes the next-token logits of the last position
    /// [VocabSize], or with <paramref name="allPositions"/> those of every position [promptIds.Length, VocabSize].
    /// </summary>
    void Prefill(ReadOnlySpan<int> promptIds, KvCache cache, bool allPositions, Span<float> logits);

    /// <summary>
    /// Feeds <paramref name="tokens"/>[r] to the sequence of <paramref name="caches"/>[r] (at position
    /// caches[r].Length) and writes each row's next-token logits, [rows, VocabSize].
    /// </summary>
    void Step(ReadOnlySpan<int> tokens, IReadOnlyList<KvCache> caches, Span<float> logits);
}
