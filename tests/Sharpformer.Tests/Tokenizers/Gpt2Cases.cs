using System.Text.Json;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

/// <summary>One golden from gpt2_cases.json (HF GPT2Tokenizer 4.36, slow).</summary>
public sealed record Gpt2Case(string Text, int[] Ids, string[] Tokens, string Decoded);

/// <summary>The GPT-2 goldens and the real GPT-2 tokenizer, loaded once for all tests.</summary>
public static class Gpt2Cases
{
    public static string VocabularyFolder { get; } = Fixture.File("tokenizers", "gpt2");

    private static readonly Lazy<IReadOnlyList<Gpt2Case>> s_cases = new(Load);
    private static readonly Lazy<ByteLevelBpeTokenizer> s_tokenizer = new(() => ByteLevelBpeTokenizer.FromFolder(VocabularyFolder));

    public static IReadOnlyList<Gpt2Case> All => s_cases.Value;

    public static ByteLevelBpeTokenizer Tokenizer => s_tokenizer.Value;

    /// <summary>Case indices for [Theory] data; the index shows in the test name.</summary>
    public static TheoryData<int> Indices => [.. Enumerable.Range(0, All.Count)];

    private static List<Gpt2Case> Load()
    {
        using var document = JsonDocument.Parse(System.IO.File.ReadAllBytes(Fixture.File("tokenizers", "gpt2_cases.json")));
        return [.. document.RootElement.GetProperty("cases").EnumerateArray().Select(entry => new Gpt2Case(
            entry.GetProperty("text").GetString()!,
            [.. entry.GetProperty("ids").EnumerateArray().Select(id => id.GetInt32())],
            [.. entry.GetProperty("tokens").EnumerateArray().Select(token => token.GetString()!)],
            entry.GetProperty("decoded").GetString()!))];
    }
}
