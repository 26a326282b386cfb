using System.Text.Json;
using System.Text.Json.Nodes;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

/// <summary>One golden from t5_cases.json (HF T5Tokenizer 4.36, slow, legacy=True, over sentencepiece 0.1.97).</summary>
public sealed record T5Case(string Text, string[] Pieces, int[] InputIds, string Decoded, string DecodedSkipSpecial);

/// <summary>The T5 goldens against <see cref="UnigramTokenizer"/> loaded from the 1000-piece spiece.model.</summary>
public sealed class UnigramT5Tests
{
    private static readonly string s_modelPath = Fixture.File("tokenizers", "t5", "spiece.model");
    private static readonly Lazy<JsonDocument> s_document = new(() => JsonDocument.Parse(File.ReadAllBytes(Fixture.File("tokenizers", "t5_cases.json"))));
    private static readonly Lazy<List<T5Case>> s_cases = new(() => [.. s_document.Value.RootElement.GetProperty("cases").EnumerateArray().Select(entry => new T5Case(
        entry.GetProperty("text").GetString()!,
        [.. entry.GetProperty("pieces").EnumerateArray().Select(piece => piece.GetString()!)],
        [.. entry.GetProperty("input_ids").EnumerateArray().Select(id => id.GetInt32())],
        entry.GetProperty("decoded").GetString()!,
        entry.GetProperty("decoded_skip_special").GetString()!))]);
    private static readonly Lazy<UnigramTokenizer> s_tokenizer = new(() => UnigramTokenizer.FromSentencePieceModel(s_modelPath));

    private static IReadOnlyList<T5Case> Cases => s_cases.Value;

    private static UnigramTokenizer Tokenizer => s_tokenizer.Value;

    public static TheoryData<int> Indices => [.. Enumerable.Range(0, s_cases.Value.Count)];

    [Theory]
    [MemberData(nameof(Indices))]
    public void InputIdsMatchHuggingFace(int index) =>
        Assert.Equal(Cases[index].InputIds, Tokenizer.Encode(Cases[index].Text));

    [Theory]
    [MemberData(nameof(Indices))]
    public void PiecesMatchHuggingFace(int index) =>
        Assert.Equal(Cases[index].Pieces, Tokenizer.Tokenize(Cases[index].Text));

    [Theory]
    [MemberData(nameof(Indices))]
    public void DecodeMatchesHuggingFace(int index)
    {
        var golden = Cases[index];
        Assert.Equal(golden.Decoded, Tokenizer.Decode(golden.InputIds));
        Assert.Equal(golden.DecodedSkipSpecial, Tokenizer.Decode(golden.InputIds, skipSpecialTokens: true));
    }

    [Theory]
    [MemberData(nameof(Indices))]
    public void IncrementalDecodingConcatenatesToDecode(int index)
    {
        int[] ids = Cases[index].InputIds;
        Assert.Equal(Tokenizer.Decode(ids, skipSpecialTokens: true), DecodeIncrementally(ids, skipSpecialTokens: true));
        // With special tokens kept, streaming matches wherever the only one is the closing </s>.
        if (ids[..^1].All(id => !Tokenizer.IsSpecialToken(id)) && ids.Length > 1)
        {
            Assert.Equal(Tokenizer.Decode(ids), DecodeIncrementally(ids, skipSpecialTokens: false));
        }
    }

    [Fact]
    public void PaddedBatchMatchesHuggingFace()
    {
        var batch = s_document.Value.RootElement.GetProperty("padded_batch");
        var texts = batch.GetProperty("texts").EnumerateArray().Select(text => text.GetString()!).ToList();
        var expected = batch.GetProperty("input_ids").EnumerateArray().Select(row => row.EnumerateArray().Select(id => id.GetInt32()).ToArray()).ToList();
        var expectedMask = batch.GetProperty("attention_mask").EnumerateArray().Select(row => row.EnumerateArray().Select(id => id.GetInt32()).ToArray()).ToList();
        var encoded = texts.Select(text => Tokenizer.Encode(text)).ToList();
        int length = encoded.Max(ids => ids.Count);
        int pad = Tokenizer.SpecialTokens["<pad>"];
        Assert.Equal(expected, encoded.Select(ids => ids.Concat(Enumerable.Repeat(pad, length - ids.Count)).ToArray()).ToList());
        Assert.Equal(expectedMask, encoded.Select(ids => Enumerable.Repeat(1, ids.Count).Concat(Enumerable.Repeat(0, length - ids.Count)).ToArray()).ToList());
    }

    [Fact]
    public void SpecialIdsAndSizeMatchTheGolden()
    {
        Assert.Equal(1100, Tokenizer.VocabSize);
        foreach (var entry in s_document.Value.RootElement.GetProperty("special_ids").EnumerateObject())
        {
            Assert.Equal(entry.Value.GetInt32(), Tokenizer.TokenToId(entry.Name));
            Assert.Equal(entry.Name, Tokenizer.IdToToken(entry.Value.GetInt32()));
            Assert.True(Tokenizer.IsSpecialToken(entry.Value.GetInt32()));
        }
        Assert.Equal(1, Tokenizer.EndOfSequenceId);
    }

    [Fact]
    public void CharsmapFoldsIdeographicSpacesBeforeWhitespaceIsTrimmed()
    {
        // NFKC turns U+3000 into a space, so it is leading/trailing whitespace and goes, as "a" alone would.
        Assert.Equal(Tokenizer.Tokenize("a"), Tokenizer.Tokenize("\u3000a\u3000"));
        Assert.Equal(Tokenizer.Encode("a b"), Tokenizer.Encode("a\u3000\u3000b"));
    }

    [Fact]
    public void FromFolderLoadsSpieceModel()
    {
        using var folder = new TemporaryFolder();
        File.Copy(s_modelPath, folder.File("spiece.model"));
        var tokenizer = Sharpformer.Tokenizers.Tokenizer.FromFolder(folder.Path);
        Assert.IsType<UnigramTokenizer>(tokenizer);
        Assert.Equal(Cases[0].InputIds, tokenizer.Encode(Cases[0].Text));
    }

    [Fact]
    public void TokenizerJsonFromTheSamePiecesGivesTheSameIds()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("tokenizer.json"), BuildTokenizerJson(Tokenizer));
        var fromJson = UnigramTokenizer.FromFolder(folder.Path);
        Assert.Equal(Tokenizer.VocabSize, fromJson.VocabSize);
        foreach (var golden in Cases)
        {
            Assert.Equal(golden.InputIds, fromJson.Encode(golden.Text));
            Assert.Equal(golden.Pieces, fromJson.Tokenize(golden.Text));
            Assert.Equal(golden.Decoded, fromJson.Decode(golden.InputIds));
        }
    }

    [Fact]
    public void MissingModelFileIsNamed()
    {
        using var folder = new TemporaryFolder();
        string path = folder.File("spiece.model");
        var exception = Assert.Throws<FileNotFoundException>(() => UnigramTokenizer.FromSentencePieceModel(path));
        Assert.Contains(path, exception.Message);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x0A, 0x05, 0x0A, 0x01 })]
    [InlineData(new byte[] { 0x7B, 0x22, 0x6D, 0x6F })]
    public void CorruptModelFileIsNamed(byte[] content)
    {
        using var folder = new TemporaryFolder();
        string path = folder.File("spiece.model");
        File.WriteAllBytes(path, content);
        var exception = Assert.Throws<TokenizerException>(() => UnigramTokenizer.FromSentencePieceModel(path));
        Assert.Contains(path, exception.Message);
    }

    [Fact]
    public void TruncatedModelFileIsNamed()
    {
        using var folder = new TemporaryFolder();
        string path = folder.File("spiece.model");
        File.WriteAllBytes(path, File.ReadAllBytes(s_modelPath)[..5000]);
        var exception = Assert.Throws<TokenizerException>(() => UnigramTokenizer.FromSentencePieceModel(path));
        Assert.Contains(path, exception.Message);
    }

    private static string DecodeIncrementally(int[] ids, bool skipSpecialTokens)
    {
        var decoder = Tokenizer.CreateIncrementalDecoder(skipSpecialTokens);
        return string.Concat(ids.Select(decoder.Add)) + decoder.Flush();
    }

    // The layout HF's T5 converter writes: Precompiled normalizer, WhitespaceSplit + Metaspace, "$A </s>".
    internal static string BuildTokenizerJson(UnigramTokenizer tokenizer)
    {
        var vocab = new JsonArray([.. tokenizer.Pieces.Select(piece => (JsonNode)new JsonArray(piece.Piece, piece.Score))]);
        var added = new JsonArray();
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            if (tokenizer.IsSpecialToken(id))
            {
                added.Add(new JsonObject
                {
                    ["id"] = id, ["content"] = tokenizer.IdToToken(id), ["single_word"] = false,
                    ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
                });
            }
        }
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(new JsonObject
                {
                    ["type"] = "Precompiled",
                    ["precompiled_charsmap"] = Convert.ToBase64String(tokenizer.NormalizerOptions.PrecompiledCharsmap!),
                }),
            },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "WhitespaceSplit" },
                    new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["add_prefix_space"] = true, ["prepend_scheme"] = "always" }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "</s>", ["type_id"] = 0 } }),
                ["special_tokens"] = new JsonObject
                {
                    ["</s>"] = new JsonObject { ["id"] = "</s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("</s>") },
                },
            },
            ["decoder"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["add_prefix_space"] = true },
            ["model"] = new JsonObject { ["type"] = "Unigram", ["unk_id"] = 2, ["vocab"] = vocab, ["byte_fallback"] = false },
        };
        return root.ToJsonString();
    }
}
