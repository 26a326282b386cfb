using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

public class TokenizerFilesTests
{
    private static readonly Dictionary<string, int> s_vocabulary = new() { ["a"] = 0, ["b"] = 1, ["ab"] = 2, ["<|endoftext|>"] = 3 };

    [Fact]
    public void MissingFolderIsNamed()
    {
        string missing = Path.Combine(Path.GetTempPath(), "sharpformer-no-such-folder");
        var exception = Assert.Throws<DirectoryNotFoundException>(() => Tokenizer.FromFolder(missing));
        Assert.Contains(missing, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FolderWithoutTokenizerFilesSaysWhatItLookedFor()
    {
        using var folder = new TemporaryFolder();
        var exception = Assert.Throws<FileNotFoundException>(() => Tokenizer.FromFolder(folder.Path));
        Assert.Contains("tokenizer.json", exception.Message, StringComparison.Ordinal);
        Assert.Contains("merges.txt", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VocabularyWithoutMergesNamesMergesFile()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("vocab.json"), """{"a": 0}""");
        var exception = Assert.Throws<FileNotFoundException>(() => Tokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("merges.txt"), exception.FileName);
        Assert.Contains("merges.txt", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tokenizer.json", """{"model": {"type": "BPE", "vocab": {"a": 0}""")]
    [InlineData("vocab.json", """{"a": 0, "b": }""")]
    [InlineData("vocab.json", """["a", "b"]""")]
    [InlineData("vocab.json", """{"a": "zero"}""")]
    public void CorruptJsonNamesTheFile(string fileName, string content)
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File(fileName), content);
        if (fileName == "vocab.json")
        {
            File.WriteAllText(folder.File("merges.txt"), "#version: 0.2\n");
        }
        var exception = Assert.Throws<TokenizerException>(() => Tokenizer.FromFolder(folder.Path));
        Assert.Contains(folder.File(fileName), exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("#version: 0.2\na b c\n", "line 2")]
    [InlineData("#version: 0.2\na b\nb a\n", "line 3")]
    public void BadMergeNamesFileAndLine(string merges, string where)
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2}""");
        File.WriteAllText(folder.File("merges.txt"), merges);
        var exception = Assert.Throws<TokenizerException>(() => Tokenizer.FromFolder(folder.Path));
        Assert.Contains($"{folder.File("merges.txt")}: {where}", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {}}}""", "WordPiece")]
    [InlineData("""{"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "Metaspace")]
    [InlineData("""{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {}}}""", "merges")]
    [InlineData("""{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}}""", "merges[0]")]
    public void UnsupportedOrIncompleteTokenizerJsonIsNamed(string json, string detail)
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("tokenizer.json"), json);
        var exception = Assert.Throws<TokenizerException>(() => Tokenizer.FromFolder(folder.Path));
        Assert.Contains(folder.File("tokenizer.json"), exception.Message, StringComparison.Ordinal);
        Assert.Contains(detail, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TokenizerJsonIsPreferredOverLegacyFiles()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2}""");
        File.WriteAllText(folder.File("merges.txt"), "#version: 0.2\n");
        HfTokenizerJson.Write(folder.File("tokenizer.json"), s_vocabulary, [("a", "b")], [new AddedToken("<|endoftext|>", 3)]);
        Assert.Equal([2, 3], Tokenizer.FromFolder(folder.Path).Encode("ab<|endoftext|>"));
    }

    [Fact]
    public void TokenizerJsonHonoursAddPrefixSpace()
    {
        var vocabulary = new Dictionary<string, int>(s_vocabulary) { ["Ġ"] = 4, ["Ġa"] = 5 };
        using var folder = new TemporaryFolder();
        HfTokenizerJson.Write(folder.File("tokenizer.json"), vocabulary, [("Ġ", "a")], [new AddedToken("<|endoftext|>", 3)], addPrefixSpace: true);
        var tokenizer = ByteLevelBpeTokenizer.FromFolder(folder.Path);
        Assert.True(tokenizer.AddPrefixSpace);
        Assert.Equal([5, 3, 5], tokenizer.Encode("a<|endoftext|> a"));
    }

    [Fact]
    public void LegacySpecialAndAddedTokenFilesAreRead()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3}""");
        File.WriteAllText(folder.File("merges.txt"), "#version: 0.2\na b\n");
        File.WriteAllText(folder.File("added_tokens.json"), """{"<sep>": 4}""");
        File.WriteAllText(folder.File("special_tokens_map.json"),
            """{"eos_token": "<|endoftext|>", "pad_token": {"content": "<pad>", "lstrip": false}, "additional_special_tokens": ["<sep>"]}""");

        var tokenizer = Tokenizer.FromFolder(folder.Path);

        Assert.Equal(new Dictionary<string, int> { ["<|endoftext|>"] = 3, ["<pad>"] = 5, ["<sep>"] = 4 }, tokenizer.SpecialTokens);
        Assert.Equal(6, tokenizer.VocabSize);
        Assert.Equal([2, 4, 0, 5, 3], tokenizer.Encode("ab<sep>a<pad><|endoftext|>"));
        Assert.Equal("ab<sep>a<pad><|endoftext|>", tokenizer.Decode([2, 4, 0, 5, 3]));
        Assert.Equal("aba", tokenizer.Decode([2, 4, 0, 5, 3], skipSpecialTokens: true));
    }
}
