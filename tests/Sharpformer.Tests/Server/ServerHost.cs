using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Sharpformer.Pipelines;
using Sharpformer.Server;

namespace Sharpformer.Tests.Server;

/// <summary>
/// A real server on a free loopback port over the bundled tiny GPT-2 and a tiny BERT folder (the BERT fixture with a
/// vocab.txt naming id i "w{i}", as BertCliTests builds it), and an HttpClient pointed at it.
/// </summary>
public sealed class ServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _bertFolder;

    private ServerHost(WebApplication app, ServedModels models, string bertFolder)
    {
        _app = app;
        _bertFolder = bertFolder;
        Models = models;
        Client = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };
    }

    public static string GptFolder { get; } = Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2");

    public ServedModels Models { get; }

    public HttpClient Client { get; }

    /// <summary>With <paramref name="gptFolder"/>, that model (and its chat template, if its tokenizer_config.json has one) is served.</summary>
    public static async Task<ServerHost> StartAsync(ServerOptions? options = null, RequestGate? gate = null, string? gptFolder = null)
    {
        string bertFolder = Directory.CreateTempSubdirectory("sharpformer-server-bert-").FullName;
        File.Copy(Fixture.File("bert", "config.json"), Path.Combine(bertFolder, "config.json"));
        File.Copy(Fixture.File("bert", "model.safetensors"), Path.Combine(bertFolder, "model.safetensors"));
        string[] special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
        File.WriteAllLines(Path.Combine(bertFolder, "vocab.txt"), Enumerable.Range(0, 1000).Select(i => i < special.Length ? special[i] : $"w{i}"));
        var models = new ServedModels(TextGenerator.Load(gptFolder ?? GptFolder), "tiny-gpt2", SentenceEmbedder.Load(bertFolder), "tiny-bert",
            gptFolder is null ? null : Sharpformer.Tokenizers.ChatTemplate.FromFolder(gptFolder));
        var app = SharpformerServer.Build(models, (options ?? new ServerOptions()) with { Host = "127.0.0.1", Port = 0 }, gate);
        await app.StartAsync();
        return new ServerHost(app, models, bertFolder);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Models.Generator.Dispose();
        Models.Embedder?.Dispose();
        Directory.Delete(_bertFolder, recursive: true);
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json) =>
        Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>POSTs and parses a 200 JSON answer (failing with the body otherwise).</summary>
    public async Task<JsonElement> PostOkAsync(string path, string json)
    {
        using var response = await PostAsync(path, json);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>The SSE data lines of a streaming completion, [DONE] included.</summary>
    public async Task<List<string>> StreamAsync(string json, string path = "/v1/completions")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var events = new List<string>();
        await foreach (var item in SseParser.Create(stream).EnumerateAsync())
        {
            events.Add(item.Data);
        }
        return events;
    }

    /// <summary>Joins a stream's text per choice index, checking the chunk shape and the closing [DONE].</summary>
    public static Dictionary<int, (string Text, string? FinishReason)> JoinChoices(List<string> events)
    {
        Assert.Equal("[DONE]", events[^1]);
        var choices = new Dictionary<int, (string Text, string? FinishReason)>();
        foreach (string data in events.SkipLast(1))
        {
            var chunk = JsonDocument.Parse(data).RootElement;
            Assert.Equal("text_completion", chunk.GetProperty("object").GetString());
            var choice = chunk.GetProperty("choices")[0];
            int index = choice.GetProperty("index").GetInt32();
            var (text, finish) = choices.GetValueOrDefault(index, ("", null));
            Assert.Null(finish); // nothing after a choice's finishing chunk
            choices[index] = (text + choice.GetProperty("text").GetString(), choice.GetProperty("finish_reason").GetString());
        }
        return choices;
    }

    public static string Json(object value) => JsonSerializer.Serialize(value);
}
