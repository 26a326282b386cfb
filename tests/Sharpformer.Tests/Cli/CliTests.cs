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
