using System.Text.Json;
using Sharpformer.Generation;

namespace Sharpformer.Server;

/// <summary>
/// The sampling fields /v1/completions and /v1/chat/completions share, with OpenAI's defaults (temperature 1,
/// top_p 1, n 1). MaxTokens is null when the request leaves it to the endpoint's default.
/// </summary>
internal sealed record SamplingFields(string? Model, int? MaxTokens, float Temperature, float TopP, int N, string[] Stop, long? Seed,
    bool Stream, bool IncludeUsage)
{
    private const int MaxStopStrings = 4;

    /// <summary>OpenAI's upper bound on temperature.</summary>
    private const float MaxTemperature = 2f;

    /// <summary>Below this, dividing the logits overflows float; sampling that cold is the argmax anyway.</summary>
    private const float GreedyBelow = 1e-4f;

    public static SamplingFields Parse(JsonElement body, ServerOptions limits)
    {
        string? model = JsonFields.String(body, "model");
        // Chat clients send max_completion_tokens (OpenAI's newer name); both mean new tokens.
        int? maxTokens = JsonFields.Integer(body, "max_tokens") ?? JsonFields.Integer(body, "max_completion_tokens");
        Check(maxTokens is null or > 0, "max_tokens", $"max_tokens must be > 0 (got {maxTokens})");
        float temperature = JsonFields.Number(body, "temperature") ?? 1f;
        Check(temperature is >= 0 and <= MaxTemperature, "temperature", $"temperature must be between 0 and {MaxTemperature} (got {temperature})");
        float topP = JsonFields.Number(body, "top_p") ?? 1f;
        Check(topP is > 0 and <= 1, "top_p", $"top_p must be in (0, 1] (got {topP})");
        int n = JsonFields.Integer(body, "n") ?? 1;
        Check(n >= 1 && n <= limits.MaxChoices, "n", $"n must be between 1 and {limits.MaxChoices} (got {n})");
        string[] stop = JsonFields.Strings(body, "stop") ?? [];
        Check(stop.Length <= MaxStopStrings, "stop", $"at most {MaxStopStrings} stop strings (got {stop.Length})");
        Check(stop.All(text => text.Length > 0), "stop", "stop strings must not be empty");
        long? seed = JsonFields.Long(body, "seed");
        bool stream = JsonFields.Boolean(body, "stream") ?? false;
        bool includeUsage = false;
        if (body.TryGetProperty("stream_options", out var streamOptions) && streamOptions.ValueKind != JsonValueKind.Null)
        {
            Check(streamOptions.ValueKind == JsonValueKind.Object, "stream_options", "stream_options must be an object");
            Check(stream, "stream_options", "stream_options is only allowed when stream is true");
            includeUsage = JsonFields.Boolean(streamOptions, "include_usage") ?? false;
        }
        Check(JsonFields.Integer(body, "best_of") is null or 1, "best_of", "best_of is not supported");
        return new SamplingFields(model, maxTokens, temperature, topP, n, stop, seed, stream, includeUsage);
    }

    /// <summary>Options for choice <paramref name="choice"/>: each choice draws from its own seed, so n &gt; 1 differs yet repeats.</summary>
    public GenerationOptions OptionsFor(int choice, int maxTokens) => new()
    {
        MaxNewTokens = maxTokens,
        Temperature = Temperature < GreedyBelow ? 0f : Temperature,
        TopK = 0, // OpenAI has no top-k; HF's default of 50 would silently narrow sampling
        TopP = TopP,
        Seed = Seed is { } seed ? unchecked((ulong)seed + (ulong)choice) : null,
        StopStrings = Stop.Length > 0 ? Stop : null,
    };

    public static void Check(bool condition, string param, string message)
    {
        if (!condition)
        {
            throw RequestException.Invalid(param, message);
        }
    }
}

/// <summary>A validated /v1/completions request (max_tokens defaults to 16, as OpenAI's).</summary>
internal sealed record CompletionRequest(SamplingFields Sampling, string[] Prompts, int MaxTokens, int? Logprobs, bool Echo)
{
    /// <summary>OpenAI's limit on logprobs.</summary>
    public const int MaxLogprobs = 5;

    public static CompletionRequest Parse(JsonElement body, ServerOptions limits)
    {
        var sampling = SamplingFields.Parse(body, limits);
        string[] prompts = JsonFields.Strings(body, "prompt") ?? throw RequestException.Invalid("prompt", "prompt is required");
        SamplingFields.Check(prompts.Length is > 0, "prompt", "prompt must not be an empty array");
        SamplingFields.Check(prompts.Length <= limits.MaxPrompts, "prompt", $"at most {limits.MaxPrompts} prompts per request (got {prompts.Length})");
        int? logprobs = JsonFields.Integer(body, "logprobs");
        SamplingFields.Check(logprobs is null or (>= 0 and <= MaxLogprobs), "logprobs", $"logprobs must be between 0 and {MaxLogprobs} (got {logprobs})");
        bool echo = JsonFields.Boolean(body, "echo") ?? false;
        return new CompletionRequest(sampling, prompts, sampling.MaxTokens ?? 16, logprobs, echo);
    }
}
