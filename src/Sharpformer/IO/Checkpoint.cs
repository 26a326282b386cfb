using System.Text.Json;
using Sharpformer.Tensors;

namespace Sharpformer.IO;

/// <summary>
/// A Hugging Face model folder: config.json, model.safetensors (or a sharded index), optional
/// generation_config.json and tokenizer files. Opened from a plain folder or a model id in the HF hub cache.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly List<SafetensorsFile> _files = new();
    private readonly Dictionary<string, SafetensorsFile> _byName = new(StringComparer.Ordinal);

    private Checkpoint(string directory, HfConfig config)
    {
        Directory = directory;
        Config = config;
    }

    public string Directory { get; }

    public HfConfig Config { get; }

    /// <summary>generation_config.json when present.</summary>
    public HfConfig? GenerationConfig { get; private set; }

    public IEnumerable<string> TensorNames => _files.SelectMany(file => file.Names);

    public bool HasWeights => _files.Count > 0;

    /// <summary>
    /// True (the default): <see cref="Read(string)"/> returns F32 tensors as views of the memory-mapped file. False: it
    /// copies every tensor into an owned array through ordinary file reads, so no mapped page becomes resident; a
    /// bf16/int8 load does this, because it converts and drops most tensors and touched mapped pages would count in RSS.
    /// </summary>
    public bool MapTensors { get; set; } = true;

    /// <summary>Opens a folder, or a model id ("gpt2", "openai-community/gpt2") found in the local Hugging Face cache.</summary>
    public static Checkpoint Open(string folderOrModelId, bool requireWeights = true)
    {
        string directory = ModelLocator.Resolve(folderOrModelId);
        var checkpoint = new Checkpoint(directory, HfConfig.Load(System.IO.Path.Combine(directory, "config.json")));
        try
        {
            string generation = System.IO.Path.Combine(directory, "generation_config.json");
            if (File.Exists(generation))
            {
                checkpoint.GenerationConfig = HfConfig.Load(generation);
            }
            checkpoint.OpenWeights(requireWeights);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
        return checkpoint;
    }

    private void OpenWeights(bool requireWeights)
    {
        string single = System.IO.Path.Combine(Directory, "model.safetensors");
        string index = System.IO.Path.Combine(Directory, "model.safetensors.index.json");
        if (File.Exists(single))
        {
            Add(SafetensorsFile.Open(single));
        }
        else if (File.Exists(index))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(index));
            var shards = document.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct();
            foreach (string shard in shards)
            {
                Add(SafetensorsFile.Open(System.IO.Path.Combine(Directory, shard)));
            }
        }
        else if (requireWeights)
        {
            string hint = File.Exists(System.IO.Path.Combine(Directory, "pytorch_model.bin"))
                ? " (only pytorch_model.bin is present: convert it to safetensors first; pickle files are not loaded)"
                : "";
            throw new CheckpointException($"{Directory}: no model.safetensors or model.safetensors.index.json{hint}");
        }
    }

    private void Add(SafetensorsFile file)
    {
        _files.Add(file);
        foreach (string name in file.Names)
        {
            _byName[name] = file;
        }
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorInfo GetInfo(string name) => FileFor(name).GetInfo(name);

    /// <summary>Reads a float tensor, checking its shape; the error names the tensor and both shapes.</summary>
    public Tensor Read(string name, int[] expectedShape) => FileFor(name).ReadFloat32(name, expectedShape, MapTensors);

    /// <summary>Reads a float tensor whatever its shape.</summary>
    public Tensor Read(string name) => FileFor(name).ReadFloat32(name, null, MapTensors);

    private SafetensorsFile FileFor(string name) =>
        _byName.TryGetValue(name, out var file)
            ? file
            : throw new CheckpointException($"{Directory}: tensor '{name}' is missing from the checkpoint");

    public void Dispose()
    {
        foreach (var file in _files)
        {
            file.Dispose();
        }
        _files.Clear();
    }
}

/// <summary>Finds model folders: a path, or a model id in the Hugging Face hub cache (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub).</summary>
public static class ModelLocator
{
    public static string HubCacheDirectory() => HubCacheDirectory(Environment.GetEnvironmentVariable);

    /// <summary>The hub cache folder as huggingface_hub resolves it, reading variables through <paramref name="environment"/>.</summary>
    public static string HubCacheDirectory(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        string? hubCache = environment("HF_HUB_CACHE") ?? environment("HUGGINGFACE_HUB_CACHE");
        if (!string.IsNullOrEmpty(hubCache))
        {
            return hubCache;
        }
        string? home = environment("HF_HOME");
        if (string.IsNullOrEmpty(home))
        {
            string? xdg = environment("XDG_CACHE_HOME");
            string cacheRoot = string.IsNullOrEmpty(xdg)
                ? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
                : xdg;
            home = System.IO.Path.Combine(cacheRoot, "huggingface");
        }
        return System.IO.Path.Combine(home, "hub");
    }

    public static string Resolve(string folderOrModelId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folderOrModelId);
        if (System.IO.Directory.Exists(folderOrModelId))
        {
            return System.IO.Path.GetFullPath(folderOrModelId);
        }
        string? cached = FindInHubCache(folderOrModelId);
        if (cached is not null)
        {
            return cached;
        }
        throw new CheckpointException(
            $"model '{folderOrModelId}' not found: it is not a folder, and no snapshot of it is in the Hugging Face cache at {HubCacheDirectory()}");
    }

    /// <summary>models--{org}--{name}/snapshots/{revision}, where revision is refs/main (or the newest snapshot).</summary>
    public static string? FindInHubCache(string modelId) => FindInHubCache(modelId, HubCacheDirectory());

    public static string? FindInHubCache(string modelId, string hub)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        if (modelId.Contains("..", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(modelId))
        {
            return null;
        }
        var candidates = new List<string> { modelId };
        // "gpt2" now lives at "openai-community/gpt2" on the hub; either name may be cached.
        if (!modelId.Contains('/', StringComparison.Ordinal))
        {
            candidates.Add("openai-community/" + modelId);
        }
        foreach (string id in candidates)
        {
            string repo = System.IO.Path.Combine(hub, "models--" + id.Replace("/", "--", StringComparison.Ordinal));
            string snapshots = System.IO.Path.Combine(repo, "snapshots");
            if (!System.IO.Directory.Exists(snapshots))
            {
                continue;
            }
            string refMain = System.IO.Path.Combine(repo, "refs", "main");
            if (File.Exists(refMain))
            {
                string revision = File.ReadAllText(refMain).Trim();
                string snapshot = System.IO.Path.Combine(snapshots, revision);
                if (System.IO.Directory.Exists(snapshot))
                {
                    return snapshot;
                }
            }
            var newest = new DirectoryInfo(snapshots).GetDirectories().OrderByDescending(d => d.LastWriteTimeUtc).FirstOrDefault();
            if (newest is not null)
            {
                return newest.FullName;
            }
        }
        return null;
    }
}
