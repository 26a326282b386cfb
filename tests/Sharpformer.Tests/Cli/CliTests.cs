using Sharpformer.Cli;
using Sharpformer.IO;

namespace Sharpformer.Tests.Cli;

public sealed class CliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    internal static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void InfoShowsANamedGpt3SizeWithoutWeights()
    {
        var (code, output, _) = Run("info", "--model", "gpt3-175b");
        Assert.Equal(0, code);
        Assert.Contains("96 × 12288", output);
        Assert.Contains("174,6", output); // 174.6 billion parameters, as the paper's 175B
        Assert.Contains("2048 tokens", output);
    }

    [Fact]
    public void InfoConfigShowsFlopsAndMemoryInEveryFormat()
    {
        var (code, output, _) = Run("info", "--config", "gpt3-small");
        Assert.Equal(0, code);
        Assert.Contains("125,226,240", output);
        Assert.Contains("500.9 MB f32, 250.45 MB bf16, 125.23 MB int8", output); // 4, 2 and 1 bytes per parameter
        Assert.Contains("+ 75.5 M attention", output);                           // 4 · 12 · 2048 · 768
        Assert.Contains("150.99 MB f32", output);                                // 2 · 12 · 768 · 2048 · 4 bytes
    }

    [Fact]
    public void InfoOnGptNeoCountsLocalLayersByTheirWindow()
    {
        var (code, output, _) = Run("info", "--config", "gpt-neo-125M");
        Assert.Equal(0, code);
        Assert.Contains("6 global layers, 6 local (window 256)", output);
        Assert.Contains("84.93 MB f32", output); // (6 · 2048 + 6 · 256) · 2 · 768 · 4 bytes
        var (folderCode, folderOutput, _) = Run("info", "--model", Fixture.File("gpt_neo"));
        Assert.Equal(0, folderCode);
        Assert.Contains("2 global layers, 2 local (window 8)", folderOutput);
    }

    [Fact]
    public void InfoRefusesAnUnknownConfigByName()
    {
        var (code, _, error) = Run("info", "--config", "gpt4");
        Assert.NotEqual(0, code);
        Assert.Contains("unknown size 'gpt4'", error);
    }

    [Fact]
    public void InfoReadsACheckpointFolder()
    {
        var (code, output, _) = Run("info", "--model", Fixture.File("gpt2"));
        Assert.Equal(0, code);
        Assert.Contains("222,272", output); // the sum of the fixture's 40 tensor sizes
        Assert.Contains("1,536 bytes", output);
    }

    [Fact]
    public void ForwardWritesLogitsAndHiddenStatesThatMatchHf()
    {
        using var goldens = new Goldens("gpt2");
        // Row 0 of forward_batch has no padding, so default positions equal HF's.
        int[] ids = goldens.Ints("forward_batch.input_ids", out var shape)[..shape[1]];
        string path = Path.Combine(_directory, "out.safetensors");
        var (code, _, error) = Run("forward", "--model", Fixture.File("gpt2"), "--ids", string.Join(',', ids), "--hidden-states", "--out", path);
        Assert.True(code == 0, error);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["logits", "hidden_states.0", "hidden_states.1", "hidden_states.2", "hidden_states.3"], file.Names);
        Goldens.AssertClose(goldens.Floats("forward_batch.logits").Span[..(shape[1] * 1000)], file.ReadFloat32("logits").Span, 1e-4f, "logits");
        Goldens.AssertClose(goldens.Floats("forward_batch.hidden_states.2").Span[..(shape[1] * 64)], file.ReadFloat32("hidden_states.2").Span, 1e-4f, "hidden 2");
    }

    [Theory]
    [InlineData("--ids", "1,2,x", "'x' is not a token id")]
    [InlineData("--ids", "1,2;3", "same number of ids")]
    [InlineData("--ids", "5000", "outside the vocabulary of 1000")]
    public void ForwardRefusesBadIdsWithOneLine(string option, string value, string expected)
    {
        var (code, _, error) = Run("forward", "--model", Fixture.File("gpt2"), option, value, "--out", Path.Combine(_directory, "x.safetensors"));
        Assert.NotEqual(0, code);
        Assert.Contains(expected, error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(_directory, "x.safetensors")));
    }

    [Fact]
    public void MissingModelIsOneReadableLine()
    {
        var (code, _, error) = Run("info", "--model", Path.Combine(_directory, "absent"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: model '", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void UnknownOptionFails()
    {
        var (code, _, error) = Run("info", "--bogus");
        Assert.NotEqual(0, code);
        Assert.Contains("--bogus", error);
    }
}

public sealed class CliGenerateTests : IDisposable
{
    private static readonly string TinyGpt2 = Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2");

    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-cli-gen-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void GreedyJsonOfTheFixtureModelMatchesHf()
    {
        // models/tiny-gpt2 holds the fixture's weights, so HF's greedy_single golden applies to it.
        using var goldens = new Goldens("gpt2");
        int[] prompt = goldens.Ints("greedy_single.input_ids");
        int[] sequence = goldens.Ints("greedy_single.sequences");
        var (code, output, error) = CliTests.Run("generate", "--model", TinyGpt2, "--prompt-ids", string.Join(',', prompt), "--max-new-tokens", "20", "--json");
        Assert.True(code == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal(prompt, json.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()));
        int[] generated = [.. json.RootElement.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32())];
        Assert.Equal(sequence[prompt.Length..(prompt.Length + generated.Length)], generated);
        Assert.True(generated.Length == 20 || generated[^1] == 999, "stops at 20 tokens or at EOS");
    }

    [Fact]
    public void TheBundledDefaultModelWritesEnglish()
    {
        // The default model was trained by `sharpformer train` on Austen's novels; a random model strings byte-pair
        // fragments together, so most of its "words" are not words. Compare with the words of the committed corpus sample.
        var known = System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(Fixture.File("corpus", "austen-sample.txt")).ToLowerInvariant(), "[a-z]+")
            .Select(match => match.Value).ToHashSet();
        var (code, output, error) = CliTests.Run("generate", "It is a truth universally acknowledged", "-n", "60");
        Assert.True(code == 0, error);
        string[] words = [.. System.Text.RegularExpressions.Regex.Matches(output.ToLowerInvariant(), "[a-z]+").Select(match => match.Value)];
        Assert.True(words.Length >= 20, output);
        double knownShare = words.Count(known.Contains) / (double)words.Length;
        Assert.True(knownShare >= 0.8, $"{knownShare:P0} of the words are English words of the corpus sample: {output}");
    }

    [Fact]
    public void StreamedTextEqualsTheJsonText()
    {
        var (code, json, error) = CliTests.Run("generate", "The sea", "-n", "12", "--temperature", "0.9", "--seed", "3", "--json");
        Assert.True(code == 0, error);
        string text = System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("text").GetString()!;
        var (streamCode, streamed, _) = CliTests.Run("generate", "The sea", "-n", "12", "--temperature", "0.9", "--seed", "3");
        Assert.Equal(0, streamCode);
        Assert.Equal("The sea" + text + Environment.NewLine, streamed);
    }

    [Fact]
    public void ATooLongPromptPrintsOneErrorLineAndNothingElse()
    {
        var (code, output, error) = CliTests.Run("generate", string.Concat(Enumerable.Repeat("word ", 300)));
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Contains("exceeds the model's context of 256 positions", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--temperature", "-1", "--temperature must be")]
    [InlineData("--top-p", "1.5", "--top-p must be in (0, 1]")]
    [InlineData("--num-beams", "0", "--num-beams must be >= 1")]
    [InlineData("--max-new-tokens", "0", "--max-new-tokens must be > 0")]
    public void InvalidOptionsNameTheFlag(string option, string value, string expected)
    {
        var (code, _, error) = CliTests.Run("generate", "Hi", option, value);
        Assert.Equal(1, code);
        Assert.StartsWith("error: " + expected, error);
    }

    [Fact]
    public void TokenizeGivesHfIdsWithTheRealGpt2Vocabulary()
    {
        // A folder with only the tokenizer: tokenize needs no weights.
        foreach (string file in new[] { "vocab.json", "merges.txt" })
        {
            File.Copy(Fixture.File("tokenizers", "gpt2", file), Path.Combine(_directory, file));
        }
        var (code, output, error) = CliTests.Run("tokenize", "Hello world", "--model", _directory, "--json");
        Assert.True(code == 0, error);
        Assert.Equal("""{"ids":[15496,995],"tokens":["Hello","Ġworld"]}""", output.Trim());
    }
}
