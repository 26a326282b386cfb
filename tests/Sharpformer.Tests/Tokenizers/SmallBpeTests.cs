using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

public class SmallBpeTests
{
    // Byte tokens for a, b, c, space ('Ġ'), then merge results; byte-level keeps 'a'..'c' as themselves.
    private static readonly Dictionary<string, int> s_vocabulary = new()
    {
        ["a"] = 0, ["b"] = 1, ["c"] = 2, ["Ġ"] = 3, ["ab"] = 4, ["bc"] = 5, ["abc"] = 6, ["aa"] = 7, ["Ġa"] = 8,
        ["<mask>"] = 9,
    };

    [Fact]
    public void TheBestRankedPairMergesFirst()
    {
        var bcFirst = ByteLevelBpeTokenizer.Create(s_vocabulary, [("b", "c"), ("a", "b")]);
        var abFirst = ByteLevelBpeTokenizer.Create(s_vocabulary, [("a", "b"), ("b", "c")]);

        Assert.Equal([0, 5], bcFirst.Encode("abc"));
        Assert.Equal([4, 2], abFirst.Encode("abc"));
        // A later merge builds on an earlier result.
        var chained = ByteLevelBpeTokenizer.Create(s_vocabulary, [("b", "c"), ("a", "bc"), ("a", "b")]);
        Assert.Equal([6], chained.Encode("abc"));
        Assert.Equal([4, 6], chained.Encode("ababc"));
    }

    [Fact]
    public void RepeatedPairsMergeLeftToRightWithoutOverlap()
    {
        var tokenizer = ByteLevelBpeTokenizer.Create(s_vocabulary, [("a", "a")]);
        Assert.Equal([7, 0], tokenizer.Encode("aaa"));
        Assert.Equal([7, 7], tokenizer.Encode("aaaa"));
    }

    [Fact]
    public void WordsAreMergedSeparately()
    {
        // "ab ab" is the words "ab" and " ab": the top merge "b Ġ" would apply to the unsplit bytes, never across words.
        var vocabulary = new Dictionary<string, int>(s_vocabulary) { ["bĠ"] = 10 };
        var tokenizer = ByteLevelBpeTokenizer.Create(vocabulary, [("b", "Ġ"), ("a", "b")]);
        Assert.Equal([4, 3, 4], tokenizer.Encode("ab ab"));
        Assert.Equal("ab ab", tokenizer.Decode([4, 3, 4]));
    }

    [Fact]
    public void AddPrefixSpaceLeadsEveryPieceBetweenAddedTokens()
    {
        var tokenizer = ByteLevelBpeTokenizer.Create(s_vocabulary, [("Ġ", "a")], [new AddedToken("<mask>", 9)], addPrefixSpace: true);
        Assert.Equal([8, 9, 8], tokenizer.Encode("a<mask>a"));
        Assert.Equal([8], tokenizer.Encode(" a"));
        Assert.Equal(" a<mask> a", tokenizer.Decode([8, 9, 8]));
    }

    [Fact]
    public void AddedTokensHonourStripAndSingleWord()
    {
        var leftStrip = ByteLevelBpeTokenizer.Create(s_vocabulary, [], [new AddedToken("<mask>", 9, LeftStrip: true)]);
        Assert.Equal([0, 9, 3, 1], leftStrip.Encode("a  <mask> b"));
        var rightStrip = ByteLevelBpeTokenizer.Create(s_vocabulary, [], [new AddedToken("<mask>", 9, RightStrip: true)]);
        Assert.Equal([0, 3, 9, 1], rightStrip.Encode("a <mask>  b"));
        var singleWord = ByteLevelBpeTokenizer.Create(s_vocabulary, [], [new AddedToken("ab", 4, SingleWord: true)]);
        Assert.Equal([4, 3, 4], singleWord.Encode("ab ab"));
        Assert.Equal([0, 1, 2], singleWord.Encode("abc"));
        Assert.Equal([0, 0, 1], singleWord.Encode("aab"));
    }

    [Fact]
    public void LongestAddedTokenWinsAtAPosition()
    {
        var tokenizer = ByteLevelBpeTokenizer.Create(s_vocabulary, [],
            [new AddedToken("<m", 7, Special: false), new AddedToken("<mask>", 9)]);
        Assert.Equal([0, 9, 7, 1], tokenizer.Encode("a<mask><mb"));
        Assert.Equal(new Dictionary<string, int> { ["<mask>"] = 9 }, tokenizer.SpecialTokens);
        // Only special tokens are skipped.
        Assert.Equal("a<mb", tokenizer.Decode([0, 9, 7, 1], skipSpecialTokens: true));
    }

    [Fact]
    public void InvalidBytesBecomeReplacementCharacters()
    {
        // Byte 0xFF alone is never valid UTF-8; the streaming decoder replaces it as soon as it is seen to be invalid.
        var vocabulary = new Dictionary<string, int> { ["a"] = 0, [ByteToken(0xFF)] = 1, [ByteToken(0xE2)] = 2 };
        var tokenizer = ByteLevelBpeTokenizer.Create(vocabulary, []);
        Assert.Equal("a\uFFFDa", tokenizer.Decode([0, 1, 0]));
        var decoder = tokenizer.CreateIncrementalDecoder();
        Assert.Equal("a\uFFFDa", decoder.Add(0) + decoder.Add(1) + decoder.Add(0));
        // A lead byte waits; an ASCII byte after it shows it was incomplete.
        Assert.Equal(string.Empty, decoder.Add(2));
        Assert.Equal("\uFFFDa", decoder.Add(0));
        Assert.Equal(string.Empty, decoder.Add(2));
        Assert.Equal("\uFFFD", decoder.Flush());
    }

    private static string ByteToken(byte value) => ByteLevelAlphabet.ByteToChar[value].ToString();
}
