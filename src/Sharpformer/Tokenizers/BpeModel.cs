using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>
/// Byte-level BPE over one pre-tokenized word: its UTF-8 bytes start as byte tokens, then the adjacent pair with the
/// best (lowest) merge rank is merged, everywhere in the word, until no pair has a merge. Works on ids, not strings.
/// Results are cached per word text, because natural text repeats its words.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 64;
    private const int MaxCacheEntries = 100_000;

    private readonly Dictionary<string, int> _vocabulary;
    private readonly Dictionary<(int Left, int Right), (int Rank, int MergedId)> _merges;
    private readonly int[] _byteTokenIds;
    private readonly bool _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;
    private int _cacheEntries;

    /// <param name="vocabulary">token (byte-level string) → id.</param>
    /// <param name="merges">merge pairs in rank order; each pair's concatenation must be in the vocabulary.</param>
    /// <param name="ignoreMerges">tokenizer.json "ignore_merges": a word found whole in the vocabulary is one token.</param>
    /// <param name="describeMerge">names a merge (file and line) in the error for a bad merge.</param>
    public BpeModel(Dictionary<string, int> vocabulary, IReadOnlyList<(string Left, string Right)> merges,
        bool ignoreMerges, Func<int, string> describeMerge)
    {
        _vocabulary = vocabulary;
        _ignoreMerges = ignoreMerges;
        _merges = new Dictionary<(int, int), (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocabulary.TryGetValue(left, out int leftId) || !vocabulary.TryGetValue(right, out int rightId))
            {
                throw new TokenizerException($"{describeMerge(rank)}: merge \"{left} {right}\" uses a token that is not in the vocabulary");
            }
            if (!vocabulary.TryGetValue(left + right, out int mergedId))
            {
                throw new TokenizerException($"{describeMerge(rank)}: merge \"{left} {right}\" makes \"{left + right}\", which is not in the vocabulary");
            }
            // A repeated pair keeps its last rank, as both HF implementations do.
            _merges[(leftId, rightId)] = (rank, mergedId);
        }
        // A byte missing from the vocabulary is dropped, as HF's BPE does without an unk_token.
        _byteTokenIds = new int[256];
        for (int value = 0; value < 256; value++)
        {
            _byteTokenIds[value] = vocabulary.TryGetValue(ByteLevelAlphabet.ByteToChar[value].ToString(), out int id) ? id : -1;
        }
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;

    /// <summary>Appends the ids of one pre-tokenized word (original text, not byte-level) to <paramref name="ids"/>.</summary>
    public void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (_cacheBySpan.TryGetValue(word, out var cached))
        {
            ids.AddRange(cached);
            return;
        }
        var wordIds = Merge(word);
        ids.AddRange(wordIds);
        if (word.Length <= MaxCachedWordLength)
        {
            // A bounded cache: start over rather than grow without limit on an endless stream of new words.
            if (Interlocked.Increment(ref _cacheEntries) > MaxCacheEntries)
            {
                _cache.Clear();
                Interlocked.Exchange(ref _cacheEntries, 0);
            }
            _cacheBySpan.TryAdd(word, wordIds);
        }
    }

    private int[] Merge(ReadOnlySpan<char> word)
    {
        int byteCount = Encoding.UTF8.GetByteCount(word);
        byte[] rented = ArrayPool<byte>.Shared.Rent(byteCount);
        try
        {
            var bytes = rented.AsSpan(0, byteCount);
            Encoding.UTF8.GetBytes(word, bytes);
            if (_ignoreMerges && _vocabulary.TryGetValue(ByteLevelAlphabet.FromBytes(bytes), out int wholeId))
            {
                return [wholeId];
            }

            var symbols = new int[byteCount];
            int symbolCount = 0;
            foreach (byte value in bytes)
            {
                int id = _byteTokenIds[value];
                if (id >= 0)
                {
                    symbols[symbolCount++] = id;
                }
            }

            while (symbolCount > 1)
            {
                // The leftmost pair with the best rank; later copies of that pair have the same rank.
                int bestIndex = -1;
                (int Rank, int MergedId) best = (int.MaxValue, 0);
                for (int i = 0; i + 1 < symbolCount; i++)
                {
                    if (_merges.TryGetValue((symbols[i], symbols[i + 1]), out var merge) && merge.Rank < best.Rank)
                    {
                        (bestIndex, best) = (i, merge);
                    }
                }
                if (bestIndex < 0)
                {
                    break;
                }

                // Merge every non-overlapping occurrence, left to right, as GPT-2's bpe() does.
                int left = symbols[bestIndex], right = symbols[bestIndex + 1];
                int written = bestIndex;
                for (int read = bestIndex; read < symbolCount; written++)
                {
                    if (read + 1 < symbolCount && symbols[read] == left && symbols[read + 1] == right)
                    {
                        symbols[written] = best.MergedId;
                        read += 2;
                    }
                    else
                    {
                        symbols[written] = symbols[read++];
                    }
                }
                symbolCount = written;
            }
            return symbols.AsSpan(0, symbolCount).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
