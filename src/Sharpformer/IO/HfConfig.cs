using System.Text.Json;

namespace Sharpformer.IO;

/// <summary>A parsed config.json: typed getters over the raw JSON, with errors that name the file and field.</summary>
public sealed class HfConfig
{
    private readonly JsonElement _root;

    private HfConfig(JsonElement root, string source)
    {
        _root = root;
        Source = source;
    }

    /// <summary>Where the config came from (a path, or a description).</summary>
    public string Source { get; }

    public string ModelType => GetString("model_type") ?? throw new CheckpointException($"{Source}: config has no \"model_type\"");

    public JsonElement Root => _root;

    public static HfConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new CheckpointException($"{path}: file not found");
        }
        return Parse(File.ReadAllText(path), path);
    }

    public static HfConfig Parse(string json, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{source}: config is not a JSON object");
            }
            return new HfConfig(document.RootElement.Clone(), source);
        }
        catch (JsonException exception)
        {
            throw new CheckpointException($"{source}: invalid JSON: {exception.Message}", exception);
        }
    }

    public bool Has(string key) => _root.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null;

    public string? GetString(string key) =>
        _root.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public int GetInt(string key, int? fallback = null)
    {
        if (_root.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result))
        {
            return result;
        }
        if (Has(key))
        {
            throw new CheckpointException($"{Source}: \"{key}\" should be an integer but is {value.GetRawText()}");
        }
        return fallback ?? throw new CheckpointException($"{Source}: config has no \"{key}\"");
    }

    public int? GetIntOrNull(string key) => Has(key) ? GetInt(key) : null;

    public float GetFloat(string key, float? fallback = null)
    {
        if (_root.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Number)
        {
            return value.GetSingle();
        }
        if (Has(key))
        {
            throw new CheckpointException($"{Source}: \"{key}\" should be a number but is {value.GetRawText()}");
        }
        return fallback ?? throw new CheckpointException($"{Source}: config has no \"{key}\"");
    }

    public bool GetBool(string key, bool fallback)
    {
        if (_root.TryGetProperty(key, out var value))
        {
            if (value.ValueKind == JsonValueKind.True)
            {
                return true;
            }
            if (value.ValueKind == JsonValueKind.False)
            {
                return false;
            }
        }
        return fallback;
    }

    /// <summary>A token id field that may be a number or a list (HF allows both for eos_token_id); returns all ids.</summary>
    public int[] GetIdList(string key)
    {
        if (!_root.TryGetProperty(key, out var value))
        {
            return [];
        }
        return value.ValueKind switch
        {
            JsonValueKind.Number => [value.GetInt32()],
            JsonValueKind.Array => value.EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            _ => [],
        };
    }
}
