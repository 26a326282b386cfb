using Sharpformer.IO;

namespace Sharpformer.Tests.Cli;

/// <summary>--dtype on the CLI: bf16/int8 weights reach the model, and a bad value is one readable line.</summary>
public sealed class DTypeCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-cli-dtype-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("bf16", 0.15f)]
    [InlineData("int8", 0.5f)]
    public void ForwardWithLowPrecisionWeightsStaysNearHfButIsNotF32(string dtype, float bound)
    {
        // Bounds as in LowPrecisionModelTests (about 3× the measured difference).
        using var goldens = new Goldens("gpt2");
        int[] ids = goldens.Ints("forward_batch.input_ids", out var shape)[..shape[1]];
        string path = Path.Combine(_directory, $"{dtype}.safetensors");
        var (code, _, error) = CliTests.Run("forward", "--model", Fixture.File("gpt2"), "--ids", string.Join(',', ids), "--out", path, "--dtype", dtype);
        Assert.True(code == 0, error);
        using var file = SafetensorsFile.Open(path);
        var expected = goldens.Floats("forward_batch.logits").Span[..(shape[1] * 1000)];
        float max = Goldens.AssertClose(expected, file.ReadFloat32("logits").Span, bound, $"{dtype} logits");
        Assert.True(max > 1e-4f, $"{dtype} logits equal f32's within 1e-4: the low-precision weights were not used");
    }

    [Fact]
    public void GenerateRunsWithInt8Weights()
    {
        var (code, output, error) = CliTests.Run("generate", "--prompt-ids", "5,17,300", "-n", "6", "--json", "--dtype", "int8");
        Assert.True(code == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.InRange(json.RootElement.GetProperty("ids").GetArrayLength(), 1, 6);
    }

    [Fact]
    public void AnUnknownDTypeNamesTheFlagAndTheChoices()
    {
        var (code, _, error) = CliTests.Run("generate", "Hi", "--dtype", "fp8");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --dtype: unknown dtype 'fp8'; use one of f32, f32-packed, bf16, int8", error);
        Assert.Single(error.Trim().Split('\n'));
    }
}
