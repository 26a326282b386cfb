using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

/// <summary>Viterbi against brute force on a hand-made vocabulary, unknown runs and byte fallback.</summary>
public sealed class UnigramModelTests
{
    // No charsmap, no dummy prefix: the segmentation sees the text as written.
    private static readonly SentencePieceNormalizerOptions s_plain = new(AddDummyPrefix: false, RemoveExtraWhitespaces: false);

    private static readonly SentencePiece[] s_pieces =
    [
        new("<unk>", 0, SentencePieceType.Unknown),
        new("a", -2.0f), new("b", -2.5f), new("c", -3.0f), new("ab", -3.9f), new("bc", -4.2f),
        new("abc", -8.5f), new("ca", -3.7f), new("cab", -6.1f), new("bca", -6.0f), new("aa", -3.3f), new("ba", -4.4f),
    ];

    public static TheoryData<string> Words =>
    [
        "a", "ab", "abc", "cab", "bcab", "abcabc", "aabca", "cabbac", "bbbaaaccc", "abcabcabca", "cacbcab", "aaaaaaa",
    ];

    [Theory]
    [MemberData(nameof(Words))]
    public void ViterbiFindsTheBestSegmentation(string word)
    {
        var tokenizer = UnigramTokenizer.Create(s_pieces, s_plain);
        var ids = tokenizer.Encode(word);
        float best = BestScoreByEnumeration(word, 0);
        Assert.Equal(word, string.Concat(ids.Select(id => s_pieces[id].Piece)));
        Assert.Equal(best, ids.Sum(id => s_pieces[id].Score), 4);
    }

    [Fact]
    public void UnknownRunIsOnePiece()
    {
        var tokenizer = UnigramTokenizer.Create(s_pieces, s_plain);
        Assert.Equal(["a", "xyz", "b", "é"], tokenizer.Tokenize("axyzbé"));
        Assert.Equal([1, 0, 2, 0], tokenizer.Encode("axyzbé"));
    }

    [Fact]
    public void ByteFallbackSpellsUnknownCharactersAsUtf8Bytes()
    {
        var pieces = new List<SentencePiece> { new("<unk>", 0, SentencePieceType.Unknown), new("</s>", 0, SentencePieceType.Control) };
        pieces.AddRange(Enumerable.Range(0, 256).Select(value => new SentencePiece($"<0x{value:X2}>", 0, SentencePieceType.Byte)));
        pieces.AddRange([new("▁", -1.5f), new("▁h", -2f), new("i", -2.5f), new("▁hi", -3f)]);
        var tokenizer = UnigramTokenizer.Create(pieces, new SentencePieceNormalizerOptions(), byteFallback: true,
            addedTokens: [new AddedToken("</s>", 1)], endOfSequenceId: 1);
        var ids = tokenizer.Encode("hi é😀");
        Assert.Equal(["▁hi", "▁", "<0xC3>", "<0xA9>", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"], tokenizer.Tokenize("hi é😀"));
        Assert.Equal(1, ids[^1]);
        Assert.Equal("hi é😀</s>", tokenizer.Decode(ids));
        Assert.Equal("hi é😀", tokenizer.Decode(ids, skipSpecialTokens: true));
        var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        Assert.Equal("hi é😀", string.Concat(ids.Select(decoder.Add)) + decoder.Flush());
    }

    [Fact]
    public void VocabularyWithoutUnknownIsRejected() =>
        Assert.Throws<TokenizerException>(() => UnigramTokenizer.Create([new SentencePiece("a", -1)]));

    // The best total score over every way of cutting word[start..] into vocabulary pieces (unknowns excluded).
    private static float BestScoreByEnumeration(string word, int start)
    {
        if (start == word.Length)
        {
            return 0;
        }
        float best = float.NegativeInfinity;
        foreach (var piece in s_pieces.Where(piece => piece.Type == SentencePieceType.Normal))
        {
            if (word.AsSpan(start).StartsWith(piece.Piece, StringComparison.Ordinal))
            {
                best = Math.Max(best, piece.Score + BestScoreByEnumeration(word, start + piece.Piece.Length));
            }
        }
        return best;
    }
}
