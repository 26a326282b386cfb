using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.IO;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string CopyFixture(string target)
    {
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Fixture.File("gpt2")))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        return target;
    }

    [Fact]
    public void ConfigIsTyped()
    {
        var config = Gpt2Config.FromHf(HfConfig.Load(Fixture.File("gpt2", "config.json")));
        Assert.Equal(new Gpt2Config(1000, 128, 64, 3, 4, 256, 1e-5f, BosTokenId: 999, EosTokenId: 999), config);
    }

    [Fact]
    public void UnknownModelTypeIsNamed()
    {
        string folder = CopyFixture(Path.Combine(_directory, "odd"));
        File.WriteAllText(Path.Combine(folder, "config.json"), """{"model_type": "mamba"}""");
        var exception = Assert.Throws<CheckpointException>(() => ModelRegistry.Load(folder));
        Assert.Contains("unknown model_type 'mamba'", exception.Message);
        Assert.Contains("gpt2", exception.Message);
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        string folder = Path.Combine(_directory, "empty");
        Directory.CreateDirectory(folder);
        Assert.Contains("config.json: file not found", Assert.Throws<CheckpointException>(() => Checkpoint.Open(folder)).Message);
        File.Copy(Fixture.File("gpt2", "config.json"), Path.Combine(folder, "config.json"));
        Assert.Contains("no model.safetensors", Assert.Throws<CheckpointException>(() => Checkpoint.Open(folder)).Message);
        Assert.Contains("not found", Assert.Throws<CheckpointException>(() => ModelRegistry.Load(Path.Combine(_directory, "nope"))).Message);
    }

    [Fact]
    public void InvalidConfigJsonAndMissingFieldsAreNamed()
    {
        string folder = CopyFixture(Path.Combine(_directory, "bad"));
        File.WriteAllText(Path.Combine(folder, "config.json"), "{ \"model_type\": ");
        Assert.Contains("invalid JSON", Assert.Throws<CheckpointException>(() => Checkpoint.Open(folder)).Message);
        File.WriteAllText(Path.Combine(folder, "config.json"), """{"model_type": "gpt2", "n_embd": 64}""");
        Assert.Contains("\"n_head\"", Assert.Throws<CheckpointException>(() => ModelRegistry.Load(folder)).Message);
    }

    [Fact]
    public void ACheckpointWithAWrongShapeNamesTheTensor()
    {
        string folder = CopyFixture(Path.Combine(_directory, "shape"));
        File.WriteAllText(Path.Combine(folder, "config.json"),
            File.ReadAllText(Path.Combine(folder, "config.json")).Replace("\"n_positions\": 128", "\"n_positions\": 256", StringComparison.Ordinal));
        var exception = Assert.Throws<CheckpointException>(() => ModelRegistry.Load(folder));
        Assert.Contains("transformer.wpe.weight", exception.Message);
        Assert.Contains("[128, 64]", exception.Message);
        Assert.Contains("[256, 64]", exception.Message);
    }

    [Fact]
    public void SaveLoadRoundTripGivesIdenticalLogits()
    {
        using var original = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"));
        using var source = Checkpoint.Open(Fixture.File("gpt2"));
        string folder = Path.Combine(_directory, "resaved");
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"),
            source.TensorNames.Select(name => new KeyValuePair<string, Tensor>(name, source.Read(name))));
        File.Copy(Fixture.File("gpt2", "config.json"), Path.Combine(folder, "config.json"));
        using var reloaded = (Gpt2Model)ModelRegistry.Load(folder);
        int[] ids = [5, 17, 256, 999, 3];
        Assert.Equal(original.Forward(ids, 1, 5).Logits.ToArray(), reloaded.Forward(ids, 1, 5).Logits.ToArray());
    }

    [Fact]
    public void ModelIdsResolveInTheHuggingFaceCache()
    {
        string hub = Path.Combine(_directory, "home", "hub");
        string snapshot = CopyFixture(Path.Combine(hub, "models--openai-community--gpt2", "snapshots", "abc123"));
        Directory.CreateDirectory(Path.Combine(hub, "models--openai-community--gpt2", "refs"));
        File.WriteAllText(Path.Combine(hub, "models--openai-community--gpt2", "refs", "main"), "abc123\n");

        Assert.Equal(snapshot, ModelLocator.FindInHubCache("openai-community/gpt2", hub));
        Assert.Equal(snapshot, ModelLocator.FindInHubCache("gpt2", hub)); // the old short id maps to the community org
        Assert.Null(ModelLocator.FindInHubCache("distilgpt2", hub));

        var variables = new Dictionary<string, string> { ["HF_HOME"] = Path.Combine(_directory, "home") };
        Assert.Equal(hub, ModelLocator.HubCacheDirectory(name => variables.GetValueOrDefault(name)));
        variables["HF_HUB_CACHE"] = "/elsewhere/hub";
        Assert.Equal("/elsewhere/hub", ModelLocator.HubCacheDirectory(name => variables.GetValueOrDefault(name)));
        Assert.EndsWith(Path.Combine(".cache", "huggingface", "hub"), ModelLocator.HubCacheDirectory(_ => null));
    }
}
