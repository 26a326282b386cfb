using System.Text.Json;
using Sharpformer.Models;
using Sharpformer.Training;

namespace Sharpformer.Tests.Cli;

/// <summary>`sharpformer train --objective plm --model-config xlnet-tiny`: the permutation LM trains a new XLNet end to end.</summary>
public sealed class XLNetTrainCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-plm-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void PlmTrainsTheTinyXLNetOnAustenAndTheLossFalls()
    {
        string output = Path.Combine(_directory, "run");
        var (code, stdout, error) = CliTests.Run("train", "--objective", "plm", "--model-config", "xlnet-tiny",
            "--data", Fixture.File("corpus", "austen-sample.txt"), "--out", output,
            "--steps", "30", "--batch", "4", "--seq", "32", "--lr", "5e-3", "--warmup", "2", "--seed", "1");
        Assert.True(code == 0, error);
        Assert.Contains("training xlnet", stdout);

        var log = File.ReadAllLines(Path.Combine(output, Trainer.LogFileName)).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal(30, log.Count);
        double first = log[..3].Average(line => line.GetProperty("loss").GetDouble());
        double last = log[^5..].Average(line => line.GetProperty("loss").GetDouble());
        Assert.True(last < first - 0.5, $"plm training loss {first} → {last}");

        // The checkpoint is an HF XLNet folder: the inference loader reads it, with <mask> appended to the GPT-2 vocabulary.
        using var model = (XLNetModel)ModelRegistry.Load(output);
        Assert.Equal(1001, model.VocabSize);
        Assert.Equal(model.Config.EosTokenId, model.Config.PadTokenId); // <|endoftext|> separates and pads
    }
}
