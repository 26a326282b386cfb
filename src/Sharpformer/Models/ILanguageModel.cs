using Sharpformer.IO;

namespace Sharpformer.Models;

/// <summary>Special token ids a model's config (and generation_config.json) declares; -1 when absent.</summary>
public sealed record SpecialTokens(int BosTokenId, int[] EosTokenIds, int PadTokenId, int DecoderStartTokenId = -1,
    int ForcedBosTokenId = -1, int ForcedEosTokenId = -1)
{
    public int EosTokenId => EosTokenIds.Length > 0 ? EosTokenIds[0] : -1;
}

/// <summary>A model that can generate token ids: a decoder-only LM or an encoder-decoder.</summary>
public interface ILanguageModel : IDisposable
{
    /// <summary>config.json "model_type" ("gpt2", ...).</summary>
    string ModelType { get; }

    int VocabSize { get; }

    /// <summary>Longest sequence the model's positions allow (decoder side for encoder-decoders).</summary>
    int MaxPositions { get; }

    bool IsEncoderDecoder { get; }

    SpecialTokens SpecialTokens { get; }

    /// <summary>
    /// Starts decoding for a batch of prompts. <paramref name="maxNewTokens"/> sizes the cache; a prompt that
    /// does not fit with it in <see cref="MaxPositions"/> is refused with an <see cref="ArgumentException"/>.
    /// </summary>
    IGenerationSession StartSession(PromptBatch prompts, int maxNewTokens);
}

/// <summary>
/// One decoding run over a batch of rows with its own KV cache. Generation loops drive it:
/// <see cref="Prefill"/> once, then <see cref="Step"/> with one new token per row.
/// </summary>
public interface IGenerationSession : IDisposable
{
    int BatchSize { get; }

    int VocabSize { get; }

    /// <summary>
    /// The ids every row's sequence starts with, [BatchSize × InitialLength] row-major: the (left-padded) prompt for
    /// a decoder-only model, the decoder start token for an encoder-decoder.
    /// </summary>
    int[] InitialSequences { get; }

    int InitialLength { get; }

    /// <summary>Runs the prompt and writes each row's next-token logits, [BatchSize, VocabSize].</summary>
    void Prefill(Span<float> logits);

    /// <summary>Feeds one token per row and writes each row's next-token logits, [BatchSize, VocabSize].</summary>
    void Step(ReadOnlySpan<int> nextTokens, Span<float> logits);

    /// <summary>Row b of the cache becomes old row <paramref name="rowIndices"/>[b] (beam search).</summary>
    void Reorder(ReadOnlySpan<int> rowIndices);
}

/// <summary>A batch of prompts, left-padded to one length as generation needs: ids and attention mask are [BatchSize × Length].</summary>
public sealed class PromptBatch
{
    public PromptBatch(int[] ids, int[] attentionMask, int batchSize, int length)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (batchSize <= 0 || length <= 0)
        {
            throw new ArgumentException($"a prompt batch needs at least one row and one token (got {batchSize} rows of {length})");
        }
        if (ids.Length != batchSize * length || attentionMask.Length != batchSize * length)
        {
            throw new ArgumentException($"ids ({ids.Length}) and attention mask ({attentionMask.Length}) must both hold {batchSize} × {length} values");
        }
        Ids = ids;
        AttentionMask = attentionMask;
        BatchSize = batchSize;
        Length = length;
    }

    public int[] Ids { get; }

    /// <summary>1 for a real token, 0 for padding.</summary>
    public int[] AttentionMask { get; }

    public int BatchSize { get; }

    public int Length { get; }

    public ReadOnlySpan<int> Row(int row) => Ids.AsSpan(row * Length, Length);

    public ReadOnlySpan<int> MaskRow(int row) => AttentionMask.AsSpan(row * Length, Length);

    /// <summary>Left-pads rows of different lengths with <paramref name="padTokenId"/> (mask 0).</summary>
    public static PromptBatch LeftPadded(IReadOnlyList<int[]> rows, int padTokenId)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0 || rows.Any(row => row.Length == 0))
        {
            throw new ArgumentException("every prompt needs at least one token");
        }
        int length = rows.Max(row => row.Length);
        var ids = new int[rows.Count * length];
        var mask = new int[rows.Count * length];
        for (int b = 0; b < rows.Count; b++)
        {
            int pad = length - rows[b].Length;
            ids.AsSpan(b * length, pad).Fill(padTokenId);
            rows[b].CopyTo(ids.AsSpan(b * length + pad));
            mask.AsSpan(b * length + pad, rows[b].Length).Fill(1);
        }
        return new PromptBatch(ids, mask, rows.Count, length);
    }

    public static PromptBatch Single(int[] ids) => LeftPadded([ids], 0);

    /// <summary>Each row repeated <paramref name="times"/> times in place (rows b0,b0,…,b1,b1,…), as beam search needs.</summary>
    public PromptBatch Repeat(int times)
    {
        var ids = new int[Ids.Length * times];
        var mask = new int[Ids.Length * times];
        for (int b = 0; b < BatchSize; b++)
        {
            for (int t = 0; t < times; t++)
            {
                Row(b).CopyTo(ids.AsSpan((b * times + t) * Length));
                MaskRow(b).CopyTo(mask.AsSpan((b * times + t) * Length));
            }
        }
        return new PromptBatch(ids, mask, BatchSize * times, Length);
    }
}
