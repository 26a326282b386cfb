using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sharpformer.Generation;

namespace Sharpformer.Server;

/// <summary>
/// POST /v1/completions: one generation per prompt × n. Non-streaming, they are all queued at once, so they share
/// decode steps; streaming, they run one after another so the chunks of one choice arrive together.
/// </summary>
internal sealed class CompletionEndpoint(ServedModels models, ServerOptions options, RequestGate gate, ServerMetrics metrics, GenerationScheduler scheduler)
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
        CheckModel(models, request.Sampling.Model);
        int[][] promptIds = [.. request.Prompts.Select(Encode)];
        foreach (var ids in promptIds)
        {
            CheckContext(models, ids.Length, request.MaxTokens);
        }
        var lease = await EnterAsync(gate, context).ConfigureAwait(false);
        string id = "cmpl-" + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (request.Sampling.Stream)
        {
            return TypedResults.ServerSentEvents(StreamAsync(request, promptIds, id, created, arrival, lease, aborted));
        }
        using (lease)
        {
            var promptLogprobs = await PromptLogprobsAsync(request, promptIds, aborted).ConfigureAwait(false);
            var runs = new List<Task<(CompletionChoice Choice, int Tokens)>>();
            for (int prompt = 0; prompt < promptIds.Length; prompt++)
            {
                for (int choice = 0; choice < request.Sampling.N; choice++)
                {
                    runs.Add(RunChoiceAsync(request, prompt, promptIds[prompt], promptLogprobs[prompt], runs.Count, arrival, aborted));
                }
            }
            var results = await Task.WhenAll(runs).ConfigureAwait(false);
            int promptTokens = promptIds.Sum(ids => ids.Length) * request.Sampling.N;
            int completionTokens = results.Sum(result => result.Tokens);
            var response = new CompletionResponse(id, "text_completion", created, models.GeneratorName, [.. results.Select(result => result.Choice)],
                new Usage(promptTokens, completionTokens, promptTokens + completionTokens));
            return TypedResults.Json(response, ServerJson.Default.CompletionResponse);
        }
    }

    private async Task<(CompletionChoice, int)> RunChoiceAsync(CompletionRequest request, int prompt, int[] ids, TokenLogprobs?[]? promptLogprobs, int index,
        long arrival, CancellationToken cancellationToken)
    {
        string promptText = request.Prompts[prompt];
        var text = new StringBuilder(request.Echo ? promptText : "");
        var logprobs = StartLogprobs(request, promptText, ids, promptLogprobs);
        FinishReason? finish = null;
        int tokens = 0;
        await foreach (var token in scheduler.StreamAsync(ids, request.Sampling.OptionsFor(index % request.Sampling.N, request.MaxTokens), request.Logprobs,
            metrics, arrival, index == 0, cancellationToken).ConfigureAwait(false))
        {
            tokens++;
            text.Append(token.TextDelta);
            logprobs?.Add(token.TokenId, token.Logprobs);
            finish = token.FinishReason ?? finish;
        }
        return (new CompletionChoice(text.ToString(), index, Describe(finish), logprobs?.Take()), tokens);
    }

    /// <summary>OpenAI's chunks: one per text piece (the last carries finish_reason), the usage when asked, then [DONE].</summary>
    private async IAsyncEnumerable<SseItem<string>> StreamAsync(CompletionRequest request, int[][] promptIds, string id, long created,
        long arrival, IDisposable lease, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int completionTokens = 0;
        using (lease)
        {
            var promptLogprobs = await PromptLogprobsAsync(request, promptIds, cancellationToken).ConfigureAwait(false);
            int index = 0;
            for (int prompt = 0; prompt < promptIds.Length; prompt++)
            {
                for (int choice = 0; choice < request.Sampling.N; choice++, index++)
                {
                    var logprobs = StartLogprobs(request, request.Prompts[prompt], promptIds[prompt], promptLogprobs[prompt]);
                    if (request.Echo)
                    {
                        yield return Chunk(request.Prompts[prompt], index, null, logprobs?.Take());
                    }
                    await foreach (var token in scheduler.StreamAsync(promptIds[prompt], request.Sampling.OptionsFor(choice, request.MaxTokens), request.Logprobs,
                        metrics, arrival, index == 0, cancellationToken).ConfigureAwait(false))
                    {
                        completionTokens++;
                        logprobs?.Add(token.TokenId, token.Logprobs);
                        if (string.IsNullOrEmpty(token.TextDelta) && token.FinishReason is null)
                        {
                            continue; // a token that ends inside a character or a possible stop string: its text (and logprobs) come later
                        }
                        yield return Chunk(token.TextDelta ?? "", index, Describe(token.FinishReason), logprobs?.Take());
                    }
                }
            }
        }
        if (request.Sampling.IncludeUsage)
        {
            int promptTokens = promptIds.Sum(ids => ids.Length) * request.Sampling.N;
            var usage = new CompletionChunk(id, "text_completion", created, models.GeneratorName, [], new Usage(promptTokens, completionTokens, promptTokens + completionTokens));
            yield return new SseItem<string>(JsonSerializer.Serialize(usage, ServerJson.Default.CompletionChunk));
        }
        yield return new SseItem<string>("[DONE]");

        SseItem<string> Chunk(string text, int index, string? finish, CompletionLogprobs? logprobs) => new(JsonSerializer.Serialize(
            new CompletionChunk(id, "text_completion", created, models.GeneratorName, [new CompletionChoice(text, index, finish, logprobs)]),
            ServerJson.Default.CompletionChunk));
    }

    /// <summary>With echo and logprobs, each prompt's own log-probabilities (one forward over it); otherwise nulls.</summary>
    private async Task<TokenLogprobs?[]?[]> PromptLogprobsAsync(CompletionRequest request, int[][] promptIds, CancellationToken cancellationToken)
    {
        var result = new TokenLogprobs?[]?[promptIds.Length];
        if (request.Echo && request.Logprobs is { } top)
        {
            for (int prompt = 0; prompt < promptIds.Length; prompt++)
            {
                result[prompt] = await scheduler.PromptLogprobsAsync(promptIds[prompt], top, cancellationToken).ConfigureAwait(false);
            }
        }
        return result;
    }

    /// <summary>A choice's logprobs so far: the echoed prompt's tokens when echo is on; offsets count from the prompt's start, as OpenAI's.</summary>
    private LogprobsBuilder? StartLogprobs(CompletionRequest request, string promptText, int[] ids, TokenLogprobs?[]? promptLogprobs)
    {
        if (request.Logprobs is null)
        {
            return null;
        }
        var builder = new LogprobsBuilder(models.Generator.Tokenizer, request.Echo ? 0 : promptText.Length);
        if (request.Echo)
        {
            for (int t = 0; t < ids.Length; t++)
            {
                builder.Add(ids[t], promptLogprobs?[t]);
            }
        }
        return builder;
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

    public static void CheckModel(ServedModels models, string? model)
    {
        if (model is not null && model != models.GeneratorName)
        {
            throw RequestException.Invalid("model", $"the model {model} is not served here (try {models.GeneratorName})", "model_not_found");
        }
    }

    public static void CheckContext(ServedModels models, int promptTokens, int maxTokens, string promptField = "prompt")
    {
        int contextLength = models.Generator.Model.MaxPositions;
        if (promptTokens >= contextLength)
        {
            throw RequestException.Invalid(promptField, $"the prompt has {promptTokens} tokens; the model context is {contextLength}", "context_length_exceeded");
        }
        if (promptTokens + maxTokens > contextLength)
        {
            throw RequestException.Invalid("max_tokens", $"the prompt ({promptTokens} tokens) plus max_tokens ({maxTokens}) exceeds the model context of {contextLength}",
                "context_length_exceeded");
        }
    }

    /// <summary>A slot for the request (waiting in the queue if need be), freed when the response ends however it ends; 429 when the queue is full.</summary>
    public static async Task<IDisposable> EnterAsync(RequestGate gate, HttpContext context)
    {
        var lease = await gate.EnterAsync(context.RequestAborted).ConfigureAwait(false);
        if (lease is null)
        {
            context.Response.Headers.RetryAfter = "1";
            throw new RequestException(429, "the server is busy: too many requests are queued", null, "rate_limit_exceeded");
        }
        context.Response.RegisterForDispose(lease);
        return lease;
    }

    public static string? Describe(FinishReason? reason) => reason switch
    {
        FinishReason.Length => "length",
        null => null,
        _ => "stop", // EOS or a stop string, as OpenAI reports both
    };
}

/// <summary>Collects per-token logprobs in OpenAI's completions layout; Take hands over what was added since the last Take (streaming).</summary>
internal sealed class LogprobsBuilder(Sharpformer.Tokenizers.Tokenizer tokenizer, int offset)
{
    private readonly List<string> _tokens = [];
    private readonly List<float?> _logprobs = [];
    private readonly List<Dictionary<string, float>?> _top = [];
    private readonly List<int> _offsets = [];
    private int _offset = offset;

    public void Add(int tokenId, TokenLogprobs? logprobs)
    {
        string text = tokenizer.Decode([tokenId]);
        _tokens.Add(text);
        _logprobs.Add(logprobs?.Logprob);
        _offsets.Add(_offset);
        _offset += text.Length;
        if (logprobs is null)
        {
            _top.Add(null);
            return;
        }
        // OpenAI lists the top alternatives and always the chosen token; ids that decode alike keep the likelier one.
        var top = new Dictionary<string, float>(StringComparer.Ordinal);
        for (int rank = 0; rank < logprobs.TopIds.Length; rank++)
        {
            top.TryAdd(tokenizer.Decode([logprobs.TopIds[rank]]), logprobs.TopLogprobs[rank]);
        }
        top.TryAdd(text, logprobs.Logprob);
        _top.Add(top);
    }

    public CompletionLogprobs Take()
    {
        var result = new CompletionLogprobs([.. _tokens], [.. _logprobs], [.. _top], [.. _offsets]);
        _tokens.Clear();
        _logprobs.Clear();
        _top.Clear();
        _offsets.Clear();
        return result;
    }
}
