using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Sharpformer.Cli;

internal sealed record GenerateJson(
    [property: JsonPropertyName("prompt_ids")] int[] PromptIds,
    [property: JsonPropertyName("ids")] int[] Ids,
    [property: JsonPropertyName("text")] string Text);

internal sealed record Text2TextJson(
    [property: JsonPropertyName("input_ids")] int[] InputIds,
    [property: JsonPropertyName("ids")] int[] Ids,
    [property: JsonPropertyName("text")] string? Text);

internal sealed record TokenizeJson(
    [property: JsonPropertyName("ids")] int[] Ids,
    [property: JsonPropertyName("tokens")] string[] Tokens);

internal sealed record FillMaskJson(
    [property: JsonPropertyName("token_id")] int TokenId,
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("score")] float Score,
    [property: JsonPropertyName("sequence")] string Sequence);

internal sealed record EmbedJson(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("embedding")] float[] Embedding);

/// <summary>Source-generated JSON (no reflection, so the CLI stays trimmable and AOT-friendly).</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(GenerateJson))]
[JsonSerializable(typeof(TokenizeJson))]
[JsonSerializable(typeof(FillMaskJson[][]))]
[JsonSerializable(typeof(EmbedJson[]))]
[JsonSerializable(typeof(Text2TextJson))]
[JsonSerializable(typeof(string))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal static class CliJson
{
    /// <summary>Readable output: non-ASCII text is written as is, not as \u escapes.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = CliJsonContext.Default,
    };

    public static JsonTypeInfo<T> GetTypeInfo<T>(this JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));
}
