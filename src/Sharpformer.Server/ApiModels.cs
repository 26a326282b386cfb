using System.Text.Json.Serialization;

namespace Sharpformer.Server;

// Response bodies in OpenAI's shapes; the snake_case names come from ServerJson.

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>One choice; logprobs is always null (not supported).</summary>
public sealed record CompletionChoice(string Text, int Index, string? FinishReason, string? Logprobs = null);

public sealed record CompletionResponse(string Id, string Object, long Created, string Model, CompletionChoice[] Choices, Usage Usage);

public sealed record CompletionChunk(string Id, string Object, long Created, string Model, CompletionChoice[] Choices);

public sealed record ModelEntry(string Id, string Object, long Created, string OwnedBy);

public sealed record ModelList(string Object, ModelEntry[] Data);

public sealed record EmbeddingItem(string Object, int Index, float[] Embedding);

public sealed record EmbeddingUsage(int PromptTokens, int TotalTokens);

public sealed record EmbeddingResponse(string Object, EmbeddingItem[] Data, string Model, EmbeddingUsage Usage);

/// <summary>encoding_format "base64": each vector as its float32 little-endian bytes (OpenAI's Python and .NET clients ask for this).</summary>
public sealed record Base64EmbeddingItem(string Object, int Index, string Embedding);

public sealed record Base64EmbeddingResponse(string Object, Base64EmbeddingItem[] Data, string Model, EmbeddingUsage Usage);

public sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);

public sealed record ErrorResponse(ErrorDetail Error);

public sealed record HealthResponse(string Status, string Model, string? EmbeddingModel);

/// <summary>Source-generated serialisation: no reflection, nulls written (OpenAI clients expect "logprobs": null).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(CompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(EmbeddingResponse))]
[JsonSerializable(typeof(Base64EmbeddingResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class ServerJson : JsonSerializerContext;
