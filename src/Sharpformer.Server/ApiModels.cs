using System.Text.Json.Serialization;

namespace Sharpformer.Server;

// Response bodies in OpenAI's shapes; the snake_case names come from ServerJson.

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>
/// OpenAI's legacy logprobs: per token its text, log-probability (null for the first prompt token, which has no
/// context), the top alternatives (the chosen token included) and its character offset from the prompt's start.
/// </summary>
public sealed record CompletionLogprobs(string[] Tokens, float?[] TokenLogprobs, Dictionary<string, float>?[] TopLogprobs, int[] TextOffset);

/// <summary>One choice; logprobs is null unless the request asked for them.</summary>
public sealed record CompletionChoice(string Text, int Index, string? FinishReason, CompletionLogprobs? Logprobs = null);

public sealed record CompletionResponse(string Id, string Object, long Created, string Model, CompletionChoice[] Choices, Usage Usage);

/// <summary>A streamed piece; with stream_options.include_usage a last chunk has no choices and the usage.</summary>
public sealed record CompletionChunk(string Id, string Object, long Created, string Model, CompletionChoice[] Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage = null);

public sealed record ChatMessageBody(string Role, string Content);

public sealed record ChatChoice(int Index, ChatMessageBody Message, string? FinishReason, string? Logprobs = null);

public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, ChatChoice[] Choices, Usage Usage);

/// <summary>What a chat chunk adds: the role in the first, then content pieces; the last is empty, with finish_reason.</summary>
public sealed record ChatDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, string? FinishReason, string? Logprobs = null);

public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, ChatChunkChoice[] Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage = null);

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
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(EmbeddingResponse))]
[JsonSerializable(typeof(Base64EmbeddingResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class ServerJson : JsonSerializerContext;
