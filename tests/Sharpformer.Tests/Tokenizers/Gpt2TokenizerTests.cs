using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

public class Gpt2TokenizerTests
{
    [Theory]
    [MemberData(nameof(Gpt2Cases.Indices), MemberType = typeof(Gpt2Cases))]
    public void EncodeGivesHuggingFaceIdsAndTokens(int caseIndex)
    {
        var golden = Gpt2Cases.All[caseIndex];
        var ids = Gpt2Cases.Tokenizer.Encode(golden.Text);
        Assert.Equal(golden.Ids, ids);
        Assert.Equal(golden.Tokens, ids.Select(id => Gpt2Cases.Tokenizer.IdToToken(id)));
    }

    [Theory]
    [MemberData(nameof(Gpt2Cases.Indices), MemberType = typeof(Gpt2Cases))]
    public void DecodeIsAnExactRoundTrip(int caseIndex)
    {
        var golden = Gpt2Cases.All[caseIndex];
        Assert.Equal(golden.Decoded, Gpt2Cases.Tokenizer.Decode(golden.Ids));
        Assert.Equal(golden.Text, golden.Decoded);
    }

    [Theory]
    [MemberData(nameof(Gpt2Cases.Indices), MemberType = typeof(Gpt2Cases))]
    public void IncrementalDecodeEmitsWholeCharactersThatAddUpToDecode(int caseIndex)
    {
        var golden = Gpt2Cases.All[caseIndex];
        var decoder = Gpt2Cases.Tokenizer.CreateIncrementalDecoder();
        var chunks = golden.Ids.Select(decoder.Add).Append(decoder.Flush()).ToList();

        Assert.Equal(golden.Decoded, string.Concat(chunks));
        foreach (string chunk in chunks)
        {
            // Valid text never shows a replacement character or half a surrogate pair mid-stream.
            Assert.DoesNotContain('\uFFFD', chunk);
            Assert.True(IsWellFormedUtf16(chunk), $"chunk \"{chunk}\" splits a surrogate pair");
        }
    }

    [Fact]
    public void MultiByteCharactersWaitForTheirLastToken()
    {
        // 👍🏽 is 8 UTF-8 bytes spread over several byte-level tokens; only the token that ends a character emits it.
        var tokenizer = Gpt2Cases.Tokenizer;
        var ids = tokenizer.Encode("👍🏽");
        Assert.True(ids.Count > 2);
        var decoder = tokenizer.CreateIncrementalDecoder();
        var chunks = ids.Select(decoder.Add).ToList();
        Assert.Equal("👍🏽", string.Concat(chunks));
        Assert.Contains(string.Empty, chunks);
        Assert.Equal(string.Empty, decoder.Flush());
    }

    [Fact]
    public void TokenizerJsonFromTheSameFilesGivesTheSameIds()
    {
        foreach (bool mergesAsPairs in new[] { false, true })
        {
            using var folder = new TemporaryFolder();
            var legacy = Gpt2Cases.Tokenizer;
            HfTokenizerJson.Write(folder.File("tokenizer.json"), legacy.Vocabulary,
                HfTokenizerJson.ReadMergesText(System.IO.Path.Combine(Gpt2Cases.VocabularyFolder, "merges.txt")),
                [new AddedToken("<|endoftext|>", 50256)], mergesAsPairs: mergesAsPairs);

            var fromJson = Tokenizer.FromFolder(folder.Path);

            Assert.IsType<ByteLevelBpeTokenizer>(fromJson);
            Assert.Equal(legacy.VocabSize, fromJson.VocabSize);
            Assert.Equal(legacy.SpecialTokens, fromJson.SpecialTokens);
            foreach (var golden in Gpt2Cases.All)
            {
                Assert.Equal(golden.Ids, fromJson.Encode(golden.Text));
                Assert.Equal(golden.Decoded, fromJson.Decode(golden.Ids));
            }
        }
    }

    [Fact]
    public void EndOfTextIsSpecialAndCanBeSkipped()
    {
        var tokenizer = Gpt2Cases.Tokenizer;
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal(new Dictionary<string, int> { ["<|endoftext|>"] = 50256 }, tokenizer.SpecialTokens);
        Assert.Equal(50256, tokenizer.TokenToId("<|endoftext|>"));
        Assert.Equal(995, tokenizer.TokenToId("Ġworld"));
        Assert.Null(tokenizer.TokenToId("not a token"));
        Assert.Null(tokenizer.IdToToken(50257));
        Assert.Null(tokenizer.IdToToken(-1));

        int[] ids = [50256, 15496, 995, 50256];
        Assert.Equal("<|endoftext|>Hello world<|endoftext|>", tokenizer.Decode(ids));
        Assert.Equal("Hello world", tokenizer.Decode(ids, skipSpecialTokens: true));
        var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        Assert.Equal("Hello world", string.Concat(ids.Select(decoder.Add)) + decoder.Flush());
    }

    [Fact]
    public void DecodeRejectsAnIdOutsideTheVocabulary()
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => Gpt2Cases.Tokenizer.Decode([15496, 50257]));
        Assert.Contains("50257", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HalfACharacterDecodesToReplacementAsHuggingFaceDoes()
    {
        var tokenizer = Gpt2Cases.Tokenizer;
        var ids = tokenizer.Encode("😀");
        var firstHalf = ids.Take(ids.Count - 1).ToArray();
        Assert.Equal("\uFFFD", tokenizer.Decode(firstHalf));

        // Streaming holds the incomplete bytes until Flush, which then gives the same replacement.
        var decoder = tokenizer.CreateIncrementalDecoder();
        Assert.Equal(string.Empty, string.Concat(firstHalf.Select(decoder.Add)));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("Hello", decoder.Add(15496));
    }

    private static bool IsWellFormedUtf16(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }
        return true;
    }
}
