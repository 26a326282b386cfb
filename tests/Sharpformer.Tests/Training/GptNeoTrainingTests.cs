using System.Globalization;
using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tests.Cli;
using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>GPT-Neo trains through the GPT-2 trainable with GPT-Neo blocks: local windows, unscaled scores, bias-free q/k/v.</summary>
public sealed class GptNeoTrainingTests
{
    [Fact]
    public void TrainingLogitsMatchHuggingFaceOnTheFixture()
    {
        // Sequence 20 > window 8, so the local layers' windows matter.
        var model = (Gpt2TrainableModel)TrainableModels.Load(Fixture.File("gpt_neo"));
        Assert.Equal("gpt_neo", model.ModelType);
        using var goldens = new Goldens("gpt_neo");
        var ids = goldens.Ints("forward_batch_default_positions.input_ids", out var shape);
        var mask = goldens.Ints("forward_batch_default_positions.attention_mask");
        var batch = new TrainingBatch(shape[0], shape[1], ids, ids) { AttentionMask = mask };
        int vocab = model.Config.VocabSize;
        // Left-padded positions are not meaningful (HF's finfo.min arithmetic): compare only where the mask is 1.
        Goldens.AssertClose(goldens.Floats("forward_batch_default_positions.logits").Span, model.Logits(batch), 1e-4f, "training logits", index => mask[index / vocab] == 1);
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var config = new GptNeoConfig(VocabSize: 23, MaxPositions: 16, HiddenSize: 16, LayerCount: 2, HeadCount: 2, InnerSize: 32, WindowSize: 3, AttentionLayers: ["global", "local"]);
        var model = new Gpt2TrainableModel(config, RandomWeights.Create(4, 0.3f));
        Assert.DoesNotContain(model.Parameters, p => p.Name.EndsWith("q_proj.bias", StringComparison.Ordinal));
        var rng = new Rng(6);
        int[] ids = [.. Enumerable.Range(0, 14).Select(_ => rng.NextInt(23))];
        var batch = new TrainingBatch(2, 7, ids, ids) { AttentionMask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0] };
        TrainingAssert.GradientsMatchFiniteDifferences(model, batch, 5);
    }

    [Fact]
    public void SavedCheckpointLoadsBackAsGptNeoWithIdenticalLogits()
    {
        var config = TrainingCatalog.PresetConfig(TrainingCatalog.Preset("gpt-neo-tiny"), 1000);
        var model = (Gpt2TrainableModel)TrainableModels.Create(config, 3);
        int[] ids = [.. Enumerable.Range(0, 40).Select(i => (i * 37) % 1000)];
        var batch = new TrainingBatch(2, 20, ids, ids);
        TrainingAssert.WithSaved(model, directory =>
        {
            var loaded = (Gpt2TrainableModel)TrainableModels.Load(directory);
            Assert.Equal("gpt_neo", loaded.ModelType);
            Assert.Equal(["global", "local", "global", "local"], GptNeoConfig.FromHf(HfConfig.Load(Path.Combine(directory, "config.json"))).AttentionLayers);
            Assert.Equal(model.Logits(batch), loaded.Logits(batch));
        });
    }

    [Fact]
    public void Gpt3SmallPresetHasGpt3SmallShape()
    {
        var config = GptNeoConfig.FromHf(TrainingCatalog.PresetConfig(TrainingCatalog.Preset("gpt3-small"), 50257));
        Assert.Equal((12, 768, 12, 2048, 256), (config.LayerCount, config.HiddenSize, config.HeadCount, config.MaxPositions, config.WindowSize));
        Assert.Equal(["global", "local"], config.AttentionLayers.Take(2));
        Assert.Equal(6, config.AttentionLayers.Count(kind => kind == "local"));
        Assert.InRange(config.ParameterCount, 125_000_000, 125_300_000);
    }

    [Fact]
    public void TrainCliTrainsTheTinyPresetAndItsLossFalls()
    {
        string directory = Path.Combine(Path.GetTempPath(), "sharpformer-neo-" + Guid.NewGuid().ToString("N"));
        try
        {
            string output = Path.Combine(directory, "run");
            var (code, stdout, error) = CliTests.Run("train", "--objective", "clm", "--model-config", "gpt-neo-tiny", "--data", Fixture.File("corpus", "austen-sample.txt"),
                "--out", output, "--tokenizer", CorpusTests.TinyTokenizerFolder, "--steps", "16", "--batch", "4", "--seq", "32", "--lr", "3e-3", "--warmup", "2", "--seed", "1");
            Assert.True(code == 0, error);
            Assert.Contains("training gpt_neo", stdout, StringComparison.Ordinal);
            var log = File.ReadAllLines(Path.Combine(output, Trainer.LogFileName)).Select(line => JsonDocument.Parse(line).RootElement).ToList();
            double first = log[0].GetProperty("loss").GetDouble();
            double last = log[^3..].Average(line => line.GetProperty("loss").GetDouble());
            Assert.True(last < first - 0.5, string.Create(CultureInfo.InvariantCulture, $"training loss {first} → {last}"));
            Assert.Equal("gpt_neo", TrainableModels.Load(output).ModelType);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}
