using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

/// <summary>models/tiny-gpt2: GPT-2's first 999 tokens plus &lt;|endoftext|&gt; = 999, for the 1000-token demo model.</summary>
public class TinyGpt2VocabularyTests
{
    private static readonly string s_modelFolder = Path.Combine(RepositoryRoot(), "models", "tiny-gpt2");

    [Theory]
    [InlineData("The quick brown fox jumps over the lazy dog.")]
    [InlineData("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.")]
    [InlineData("Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail about a little.")]
    [InlineData("Hello world<|endoftext|>")]
    public void EnglishUsesOnlyTheFirstThousandIdsAndRoundTrips(string text)
    {
        var tokenizer = Tokenizer.FromFolder(s_modelFolder);
        var ids = tokenizer.Encode(text);
        Assert.All(ids, id => Assert.InRange(id, 0, 999));
        Assert.Equal(text, tokenizer.Decode([.. ids]));
    }

    [Fact]
    public void MatchesFullGpt2WhereItsTokensSuffice()
    {
        var tiny = Tokenizer.FromFolder(s_modelFolder);
        Assert.Equal(1000, tiny.VocabSize);
        Assert.Equal(new Dictionary<string, int> { ["<|endoftext|>"] = 999 }, tiny.SpecialTokens);
        // " world" and "Hello"'s pieces are all among the first merges, so the truncated BPE agrees with the full one.
        Assert.Equal([40, 716], tiny.Encode("I am"));
        Assert.Equal(Gpt2Cases.Tokenizer.Encode(" the world"), tiny.Encode(" the world"));
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Sharpformer.slnx")))
            {
                return folder.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no Sharpformer.slnx above {AppContext.BaseDirectory}");
    }
}
