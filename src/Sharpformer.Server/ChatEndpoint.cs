using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sharpformer.Generation;
using Sharpformer.Tokenizers;

namespace Sharpformer.Server;

/// <summary>
/// POST /v1/chat/completions: the messages go through the model's chat template (tokenizer_config.json) into one
/// prompt, then generate as completions do. Models without a template get a 400 that says so.
/// </summary>
internal sealed class ChatEndpoint(ServedModels models, ServerOptions options, RequestGate gate, ServerMetrics metrics, GenerationScheduler scheduler)
{
    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        long arrival = Stopwatch.GetTimestamp();
        var template = models.ChatTemplate ?? throw RequestException.Invalid("model",
            $"{models.GeneratorName} has no chat template (tokenizer_config.json \"chat_template\"): use /v1/completions", "chat_template_unsupported");
        SamplingFields sampling;
        ChatMessage[] messages;
        using (var document = await JsonFields.ReadObjectAsync(context.Request, aborted).ConfigureAwait(false))
        {
            var body = document.RootElement;
            sampling = SamplingFields.Parse(body, options);
            messages = ParseMessages(body);
            SamplingFields.Check(JsonFields.Boolean(body, "logprobs") != true, "logprobs", "logprobs are not supported for chat completions (use /v1/completions)");
        }
        CompletionEndpoint.CheckModel(models, sampling.Model);
        string prompt;
        try
        {
            prompt = template.Render(messages, addGenerationPrompt: true);
        }
        catch (TemplateException exception)
        {
            throw RequestException.Invalid("messages", $"the chat template refused the messages: {exception.Message}");
        }
        int[] promptIds = models.Generator.EncodePrompt(prompt);
        int contextLength = models.Generator.Model.MaxPositions;
        // OpenAI's chat default is "as many as fit".
        int maxTokens = sampling.MaxTokens ?? Math.Max(1, contextLength - promptIds.Length);
        CompletionEndpoint.CheckContext(models, promptIds.Length, maxTokens, "messages");
        var lease = await CompletionEndpoint.EnterAsync(gate, context).ConfigureAwait(false);
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (sampling.Stream)
        {
            return TypedResults.ServerSentEvents(StreamAsync(sampling, promptIds, maxTokens, id, created, arrival, lease, aborted));
        }
        using (lease)
        {
            var runs = Enumerable.Range(0, sampling.N).Select(async choice =>
            {
                var text = new StringBuilder();
                FinishReason? finish = null;
                int tokens = 0;
                await foreach (var token in scheduler.StreamAsync(promptIds, sampling.OptionsFor(choice, maxTokens), null, metrics, arrival, choice == 0, aborted)
                    .ConfigureAwait(false))
                {
                    tokens++;
                    text.Append(token.TextDelta);
                    finish = token.FinishReason ?? finish;
                }
                return (Choice: new ChatChoice(choice, new ChatMessageBody("assistant", text.ToString()), CompletionEndpoint.Describe(finish)), Tokens: tokens);
            }).ToArray();
            var results = await Task.WhenAll(runs).ConfigureAwait(false);
            int promptTokens = promptIds.Length * sampling.N;
            int completionTokens = results.Sum(result => result.Tokens);
            var response = new ChatCompletionResponse(id, "chat.completion", created, models.GeneratorName, [.. results.Select(result => result.Choice)],
                new Usage(promptTokens, completionTokens, promptTokens + completionTokens));
            return TypedResults.Json(response, ServerJson.Default.ChatCompletionResponse);
        }
    }

    /// <summary>Chunks as OpenAI's: the role first, content pieces, an empty delta with finish_reason; the usage when asked; [DONE].</summary>
    private async IAsyncEnumerable<SseItem<string>> StreamAsync(SamplingFields sampling, int[] promptIds, int maxTokens, string id, long created,
        long arrival, IDisposable lease, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int completionTokens = 0;
        using (lease)
        {
            for (int choice = 0; choice < sampling.N; choice++)
            {
                yield return Chunk(new ChatChunkChoice(choice, new ChatDelta("assistant", ""), null));
                await foreach (var token in scheduler.StreamAsync(promptIds, sampling.OptionsFor(choice, maxTokens), null, metrics, arrival, choice == 0, cancellationToken)
                    .ConfigureAwait(false))
                {
                    completionTokens++;
                    if (!string.IsNullOrEmpty(token.TextDelta))
                    {
                        yield return Chunk(new ChatChunkChoice(choice, new ChatDelta(null, token.TextDelta), null));
                    }
                    if (token.FinishReason is { } finish)
                    {
                        yield return Chunk(new ChatChunkChoice(choice, new ChatDelta(null, null), CompletionEndpoint.Describe(finish)));
                    }
                }
            }
        }
        if (sampling.IncludeUsage)
        {
            int promptTokens = promptIds.Length * sampling.N;
            yield return new SseItem<string>(JsonSerializer.Serialize(new ChatCompletionChunk(id, "chat.completion.chunk", created, models.GeneratorName, [],
                new Usage(promptTokens, completionTokens, promptTokens + completionTokens)), ServerJson.Default.ChatCompletionChunk));
        }
        yield return new SseItem<string>("[DONE]");

        SseItem<string> Chunk(ChatChunkChoice choice) => new(JsonSerializer.Serialize(
            new ChatCompletionChunk(id, "chat.completion.chunk", created, models.GeneratorName, [choice]), ServerJson.Default.ChatCompletionChunk));
    }

    /// <summary>messages: [{role, content}], content a string or OpenAI's list of parts (text parts only).</summary>
    private static ChatMessage[] ParseMessages(JsonElement body)
    {
        if (!body.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
        {
            throw RequestException.Invalid("messages", "messages must be a non-empty array of {role, content} objects");
        }
        var messages = new List<ChatMessage>();
        foreach (var item in list.EnumerateArray())
        {
            string where = $"messages[{messages.Count}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw RequestException.Invalid("messages", $"{where} must be an object");
            }
            string role = item.TryGetProperty("role", out var roleValue) && roleValue.ValueKind == JsonValueKind.String
                ? roleValue.GetString()! : throw RequestException.Invalid("messages", $"{where}.role must be a string");
            string content = !item.TryGetProperty("content", out var contentValue) ? throw RequestException.Invalid("messages", $"{where}.content is required")
                : contentValue.ValueKind switch
                {
                    JsonValueKind.String => contentValue.GetString()!,
                    JsonValueKind.Null => "",
                    JsonValueKind.Array => string.Concat(contentValue.EnumerateArray().Select(part =>
                        part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.GetString() == "text"
                            && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                            ? text.GetString() : throw RequestException.Invalid("messages", $"{where}.content: only text parts are supported"))),
                    _ => throw RequestException.Invalid("messages", $"{where}.content must be a string or a list of text parts"),
                };
            messages.Add(new ChatMessage(role, content));
        }
        return [.. messages];
    }
}
