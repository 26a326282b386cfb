using System.Text.Json;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

/// <summary>WordPiece against HF BertTokenizer 4.36 goldens (bert_cases.json, real bert-base-uncased vocab.txt).</summary>
public sealed class WordPieceTokenizerTests
{
    private static readonly Lazy<JsonDocument> s_cases = new(() => JsonDocument.Parse(File.ReadAllBytes(Fixture.File("tokenizers", "bert_cases.json"))));
    private static readonly Lazy<WordPieceTokenizer> s_tokenizer = new(() => (WordPieceTokenizer)Tokenizer.FromFolder(Fixture.File("tokenizers", "bert")));

    private static JsonElement Root => s_cases.Value.RootElement;

    private static WordPieceTokenizer Bert => s_tokenizer.Value;

    public static TheoryData<int> Indices => [.. Enumerable.Range(0, Root.GetProperty("cases").GetArrayLength())];

    private static int[] Ints(JsonElement element) => [.. element.EnumerateArray().Select(value => value.GetInt32())];

    [Theory]
    [MemberData(nameof(Indices))]
    public void TokensIdsTypesMaskAndDecodingMatchHf(int index)
    {
        var golden = Root.GetProperty("cases")[index];
        string text = golden.GetProperty("text").GetString()!;
        Assert.Equal(golden.GetProperty("tokens").EnumerateArray().Select(token => token.GetString()!), Bert.Tokenize(text));
        var encoding = Bert.EncodeForModel(text);
        Assert.Equal(Ints(golden.GetProperty("input_ids")), encoding.InputIds);
        Assert.Equal(Ints(golden.GetProperty("token_type_ids")), encoding.TokenTypeIds);
        Assert.Equal(Ints(golden.GetProperty("attention_mask")), encoding.AttentionMask);
        Assert.False(encoding.Truncated);
        Assert.Equal(golden.GetProperty("decoded").GetString(), Bert.Decode(encoding.InputIds, skipSpecialTokens: false, cleanUpTokenizationSpaces: true));
        Assert.Equal(golden.GetProperty("decoded_skip_special").GetString(), Bert.Decode(encoding.InputIds, skipSpecialTokens: true, cleanUpTokenizationSpaces: true));
    }

    [Fact]
    public void SentencePairsGetSegmentIdsZeroThenOne()
    {
        foreach (var pair in Root.GetProperty("pairs").EnumerateArray())
        {
            var encoding = Bert.EncodeForModel(pair.GetProperty("text").GetString()!, pair.GetProperty("text_pair").GetString());
            Assert.Equal(Ints(pair.GetProperty("input_ids")), encoding.InputIds);
            Assert.Equal(Ints(pair.GetProperty("token_type_ids")), encoding.TokenTypeIds);
            Assert.Equal(Ints(pair.GetProperty("attention_mask")), encoding.AttentionMask);
        }
    }

    [Fact]
    public void SpecialTokenIdsAreBertBaseUncased()
    {
        foreach (var special in Root.GetProperty("special_ids").EnumerateObject())
        {
            Assert.Equal(special.Value.GetInt32(), Bert.SpecialTokens[special.Name]);
        }
        Assert.Equal(103, Bert.MaskTokenId);
        Assert.Equal(30522, Bert.VocabSize);
    }

    [Fact]
    public void TruncationKeepsClsAndSepAndCutsTheLongerSequenceFirst()
    {
        var single = Bert.EncodeForModel("the quick brown fox jumps over the lazy dog", maxLength: 6);
        Assert.True(single.Truncated);
        Assert.Equal(new[] { 101, 1996, 4248, 2829, 4419, 102 }, single.InputIds);
        var pair = Bert.EncodeForModel("the quick brown fox jumps", "over the", maxLength: 8);
        Assert.True(pair.Truncated);
        // 3 specials leave 5 tokens: longest-first trims "the quick brown fox jumps" to 3 and keeps "over the".
        Assert.Equal(new[] { 101, 1996, 4248, 2829, 102, 2058, 1996, 102 }, pair.InputIds);
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 1, 1, 1 }, pair.TokenTypeIds);
    }

    [Fact]
    public void AVocabularyMissingSpecialTokensIsRefusedNamingThem()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllLines(folder.File("vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "hello"]);
        var error = Assert.Throws<TokenizerException>(() => Tokenizer.FromFolder(folder.Path));
        Assert.Contains("[SEP], [MASK]", error.Message, StringComparison.Ordinal);
        Assert.Contains("vocab.txt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TokenizerJsonWithAWordPieceModelLoadsTheSameVocabulary()
    {
        using var folder = new TemporaryFolder();
        var lines = File.ReadAllLines(Fixture.File("tokenizers", "bert", "vocab.txt"));
        var json = new Dictionary<string, object>
        {
            ["normalizer"] = new Dictionary<string, object?> { ["type"] = "BertNormalizer", ["lowercase"] = true, ["strip_accents"] = null },
            ["model"] = new Dictionary<string, object>
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100,
                ["vocab"] = lines.Select((token, id) => (token, id)).ToDictionary(entry => entry.token, entry => entry.id),
            },
        };
        File.WriteAllText(folder.File("tokenizer.json"), JsonSerializer.Serialize(json));
        var tokenizer = Assert.IsType<WordPieceTokenizer>(Tokenizer.FromFolder(folder.Path));
        var golden = Root.GetProperty("cases")[3];
        Assert.Equal(Ints(golden.GetProperty("input_ids")), tokenizer.EncodeForModel(golden.GetProperty("text").GetString()!).InputIds);
    }
}
