namespace Sharpformer.Generation;

/// <summary>
/// Rewrites one row's next-token scores in place, as HF's LogitsProcessor does for one row.
/// <paramref name="sequence"/> is the row's ids so far (left-padded prompt or decoder start, then generated ids);
/// the last <paramref name="generatedLength"/> of them were generated.
/// </summary>
public interface ILogitsProcessor
{
    void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits);
}

/// <summary>HF RepetitionPenaltyLogitsProcessor: each distinct id in the row (padding included, as HF gathers over all input_ids) once.</summary>
public sealed class RepetitionPenaltyProcessor(float penalty) : ILogitsProcessor
{
    private int[] _seenAt = [];
    private int _pass;

    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        if (_seenAt.Length != logits.Length)
        {
            _seenAt = new int[logits.Length];
            _pass = 0;
        }
        _pass++; // Stamps instead of clearing a vocab-sized set every step.
        foreach (int id in sequence)
        {
            if ((uint)id < (uint)logits.Length && _seenAt[id] != _pass)
            {
                _seenAt[id] = _pass;
                float score = logits[id];
                logits[id] = score < 0 ? score * penalty : score / penalty;
            }
        }
    }
}

/// <summary>HF NoRepeatNGramLogitsProcessor: bans every token that would complete an n-gram already in the row.</summary>
public sealed class NoRepeatNgramProcessor(int ngramSize) : ILogitsProcessor
{
    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        int length = sequence.Length;
        if (length + 1 < ngramSize)
        {
            return;
        }
        var prefix = sequence[(length - ngramSize + 1)..]; // the n-1 newest tokens
        for (int start = 0; start + ngramSize <= length; start++)
        {
            if (sequence.Slice(start, ngramSize - 1).SequenceEqual(prefix))
            {
                int banned = sequence[start + ngramSize - 1];
                if ((uint)banned < (uint)logits.Length)
                {
                    logits[banned] = float.NegativeInfinity;
                }
            }
        }
    }
}

/// <summary>
/// HF NoBadWordsLogitsProcessor: a one-token entry is always banned; a longer entry bans its last token when the row
/// ends with the rest. As in HF 4.36, an entry longer than the row is skipped and entries equal to [eos] are dropped.
/// </summary>
public sealed class BadWordsProcessor : ILogitsProcessor
{
    private readonly int[][] _badWords;

    public BadWordsProcessor(IEnumerable<int[]> badWords, IReadOnlyCollection<int> eosTokenIds)
    {
        _badWords = badWords.Where(words => !(words.Length == 1 && eosTokenIds.Contains(words[0]))).ToArray();
    }

    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        foreach (int[] words in _badWords)
        {
            bool banned = words.Length == 1
                || (words.Length <= sequence.Length && sequence[^(words.Length - 1)..].SequenceEqual(words.AsSpan(0, words.Length - 1)));
            if (banned && (uint)words[^1] < (uint)logits.Length)
            {
                logits[words[^1]] = float.NegativeInfinity;
            }
        }
    }
}

/// <summary>HF MinNewTokensLengthLogitsProcessor: EOS is impossible until enough tokens are generated.</summary>
public sealed class MinNewTokensProcessor(int minNewTokens, int[] eosTokenIds) : ILogitsProcessor
{
    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        if (generatedLength < minNewTokens)
        {
            foreach (int eos in eosTokenIds)
            {
                logits[eos] = float.NegativeInfinity;
            }
        }
    }
}

/// <summary>HF ForcedBOSTokenLogitsProcessor: when the row holds one id (the decoder start), only <c>tokenId</c> may follow.</summary>
public sealed class ForcedBosProcessor(int tokenId) : ILogitsProcessor
{
    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        if (sequence.Length == 1)
        {
            ForceToken(logits, tokenId);
        }
    }

    internal static void ForceToken(Span<float> logits, int tokenId)
    {
        logits.Fill(float.NegativeInfinity);
        logits[tokenId] = 0f;
    }
}

/// <summary>HF ForcedEOSTokenLogitsProcessor: the last token allowed by the budget (cur_len == max_length - 1) is <c>tokenId</c>.</summary>
public sealed class ForcedEosProcessor(int tokenId, int maxNewTokens) : ILogitsProcessor
{
    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits)
    {
        if (generatedLength == maxNewTokens - 1)
        {
            ForcedBosProcessor.ForceToken(logits, tokenId);
        }
    }
}
