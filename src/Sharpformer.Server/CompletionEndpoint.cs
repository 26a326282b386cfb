using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sharpformer.Generation;

namespace Sharpformer.Server;

/// <summary>POST /v1/completions: one generation per prompt × n, run one after another inside the request's slot.</summary>
internal sealed class CompletionEndpoint(ServedModels models, ServerOptions options, RequestGate gate, ServerMetrics metrics)
{
    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        long arrival = Stopwatch.GetTimestamp();
        CompletionRequest request;
        using (var document = await JsonFields.ReadObjectAsync(context.Request, aborted).ConfigureAwait(false))
        {
            request = CompletionRequest.Parse(document.RootElement, options);
        }
        if (request.Model is { } model && model != models.GeneratorName)
        {
            throw RequestException.Invalid("model", $"the model {model} is not served here (try {models.GeneratorName})", "model_not_found");
        }
        int[][] promptIds = [.. request.Prompts.Select(Encode)];
        int contextLength = models.Generator.Model.MaxPositions;
        foreach (var ids in promptIds)
        {
            if (ids.Length >= contextLength)
            {
                throw RequestException.Invalid("prompt", $"the prompt has {ids.Length} tokens; the model context is {contextLength}", "context_length_exceeded");
            }
            if (ids.Length + request.MaxTokens > contextLength)
            {
                throw RequestException.Invalid("max_tokens", $"the prompt ({ids.Length} tokens) plus max_tokens ({request.MaxTokens}) exceeds the model context of {contextLength}",
                    "context_length_exceeded");
            }
        }
        var lease = await gate.EnterAsync(aborted).ConfigureAwait(false);
        if (lease is null)
        {
            context.Response.Headers.RetryAfter = "1";
            throw new RequestException(429, "the server is busy: too many requests are queued", null, "rate_limit_exceeded");
        }
        // Frees the slot when the response ends, however it ends (finished, failed or the client left).
        context.Response.RegisterForDispose(lease);
        string id = "cmpl-" + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (request.Stream)
        {
            return TypedResults.ServerSentEvents(StreamAsync(request, promptIds, id, created, arrival, lease, aborted));
        }
        using (lease)
        {
            var choices = new List<CompletionChoice>();
            int completionTokens = 0;
            for (int prompt = 0; prompt < promptIds.Length; prompt++)
            {
                for (int choice = 0; choice < request.N; choice++)
                {
                    var text = new StringBuilder();
                    FinishReason? finish = null;
                    await foreach (var token in GenerateAsync(promptIds[prompt], request.OptionsFor(choice), arrival, choices.Count == 0, aborted).ConfigureAwait(false))
                    {
                        completionTokens++;
                        text.Append(token.TextDelta);
                        finish = token.FinishReason ?? finish;
                    }
                    choices.Add(new CompletionChoice(text.ToString(), choices.Count, Describe(finish)));
                }
            }
            int promptTokens = promptIds.Sum(ids => ids.Length) * request.N;
            var response = new CompletionResponse(id, "text_completion", created, models.GeneratorName, [.. choices],
                new Usage(promptTokens, completionTokens, promptTokens + completionTokens));
            return TypedResults.Json(response, ServerJson.Default.CompletionResponse);
        }
    }

    /// <summary>OpenAI's chunks: one per text piece (the last carries finish_reason), then [DONE].</summary>
    private async IAsyncEnumerable<SseItem<string>> StreamAsync(CompletionRequest request, int[][] promptIds, string id, long created,
        long arrival, IDisposable lease, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using (lease)
        {
            int index = 0;
            for (int prompt = 0; prompt < promptIds.Length; prompt++)
            {
                for (int choice = 0; choice < request.N; choice++, index++)
                {
                    await foreach (var token in GenerateAsync(promptIds[prompt], request.OptionsFor(choice), arrival, index == 0, cancellationToken).ConfigureAwait(false))
                    {
                        if (string.IsNullOrEmpty(token.TextDelta) && token.FinishReason is null)
                        {
                            continue; // a token that ends inside a character or a possible stop string: its text comes later
                        }
                        var chunk = new CompletionChunk(id, "text_completion", created, models.GeneratorName,
                            [new CompletionChoice(token.TextDelta ?? "", index, Describe(token.FinishReason))]);
                        yield return new SseItem<string>(JsonSerializer.Serialize(chunk, ServerJson.Default.CompletionChunk));
                    }
                }
            }
        }
        yield return new SseItem<string>("[DONE]");
    }

    /// <summary>One choice's tokens, counted for /metrics (time to first token for the request's first choice).</summary>
    private async IAsyncEnumerable<GeneratedToken> GenerateAsync(int[] promptIds, GenerationOptions generation, long arrival, bool firstOfRequest,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        int tokens = 0;
        try
        {
            await foreach (var token in models.Generator.StreamTokensAsync(promptIds, generation, cancellationToken).ConfigureAwait(false))
            {
                if (tokens++ == 0 && firstOfRequest)
                {
                    metrics.CountFirstToken(Stopwatch.GetElapsedTime(arrival));
                }
                yield return token;
            }
        }
        finally
        {
            metrics.CountGeneration(tokens, Stopwatch.GetElapsedTime(started));
        }
    }

    private int[] Encode(string prompt)
    {
        try
        {
            return models.Generator.EncodePrompt(prompt);
        }
        catch (ArgumentException exception)
        {
            throw RequestException.Invalid("prompt", exception.Message);
        }
    }

    private static string? Describe(FinishReason? reason) => reason switch
    {
        FinishReason.Length => "length",
        null => null,
        _ => "stop", // EOS or a stop string, as OpenAI reports both
    };
}
