using System.Text.Json;
using Sharpformer.Generation;

namespace Sharpformer.Server;

/// <summary>A validated /v1/completions request, with OpenAI's defaults (max_tokens 16, temperature 1, top_p 1, n 1).</summary>
internal sealed record CompletionRequest(string? Model, string[] Prompts, int MaxTokens, float Temperature, float TopP, int N,
    string[] Stop, long? Seed, bool Stream)
{
    private const int MaxStopStrings = 4;

    /// <summary>OpenAI's upper bound on temperature.</summary>
    private const float MaxTemperature = 2f;

    /// <summary>Below this, dividing the logits overflows float; sampling that cold is the argmax anyway.</summary>
    private const float GreedyBelow = 1e-4f;

    public static CompletionRequest Parse(JsonElement body, ServerOptions limits)
    {
        string? model = JsonFields.String(body, "model");
        string[] prompts = JsonFields.Strings(body, "prompt") ?? throw RequestException.Invalid("prompt", "prompt is required");
        Check(prompts.Length is > 0, "prompt", "prompt must not be an empty array");
        Check(prompts.Length <= limits.MaxPrompts, "prompt", $"at most {limits.MaxPrompts} prompts per request (got {prompts.Length})");
        int maxTokens = JsonFields.Integer(body, "max_tokens") ?? 16;
        Check(maxTokens > 0, "max_tokens", $"max_tokens must be > 0 (got {maxTokens})");
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
        // Accepted for client compatibility only in their "off" form; the features are not implemented.
        Check(JsonFields.Boolean(body, "echo") != true, "echo", "echo is not supported");
        Check(JsonFields.Integer(body, "logprobs") is null or 0, "logprobs", "logprobs is not supported");
        Check(JsonFields.Integer(body, "best_of") is null or 1, "best_of", "best_of is not supported");
        return new CompletionRequest(model, prompts, maxTokens, temperature, topP, n, stop, seed, stream);
    }

    /// <summary>Options for choice <paramref name="choice"/>: each choice draws from its own seed, so n &gt; 1 differs yet repeats.</summary>
    public GenerationOptions OptionsFor(int choice) => new()
    {
        MaxNewTokens = MaxTokens,
        Temperature = Temperature < GreedyBelow ? 0f : Temperature,
        TopK = 0, // OpenAI has no top-k; HF's default of 50 would silently narrow sampling
        TopP = TopP,
        Seed = Seed is { } seed ? unchecked((ulong)seed + (ulong)choice) : null,
        StopStrings = Stop.Length > 0 ? Stop : null,
    };

    private static void Check(bool condition, string param, string message)
    {
        if (!condition)
        {
            throw RequestException.Invalid(param, message);
        }
    }
}
