using System.Text.Json;
using Sharpformer.Generation;

namespace Sharpformer.Tests.Server;

/// <summary>/v1/completions, /v1/models and /health over real HTTP on loopback.</summary>
public sealed class CompletionServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerHost Host => fixture.Host;

    [Fact]
    public async Task HealthAndModelsNameBothModels()
    {
        var health = JsonDocument.Parse(await Host.Client.GetStringAsync("/health")).RootElement;
        Assert.Equal("ok", health.GetProperty("status").GetString());
        var models = JsonDocument.Parse(await Host.Client.GetStringAsync("/v1/models")).RootElement;
        Assert.Equal("list", models.GetProperty("object").GetString());
        Assert.Equal(["tiny-gpt2", "tiny-bert"], models.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!));
        Assert.All(models.GetProperty("data").EnumerateArray(), m => Assert.Equal("model", m.GetProperty("object").GetString()));
    }

    [Fact]
    public async Task GreedyCompletionMatchesThePipelineInOpenAiShape()
    {
        var body = await Host.PostOkAsync("/v1/completions", """{"model":"tiny-gpt2","prompt":"hello world","max_tokens":8,"temperature":0}""");
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal("tiny-gpt2", body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("created").GetInt64() > 1_600_000_000);
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        var expected = Host.Models.Generator.Generate("hello world", new GenerationOptions { MaxNewTokens = 8, Temperature = 0 });
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal(expected.FinishReason == FinishReason.Length ? "length" : "stop", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(expected.PromptIds.Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.GeneratedIds.Length, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.PromptIds.Length + expected.GeneratedIds.Length, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task StreamingGivesTheSameTextAsNonStreaming()
    {
        const string Request = """{"prompt":["hello world","the cat"],"max_tokens":12,"temperature":0,"n":2,"stream":STREAM}""";
        var whole = await Host.PostOkAsync("/v1/completions", Request.Replace("STREAM", "false", StringComparison.Ordinal));
        var streamed = ServerHost.JoinChoices(await Host.StreamAsync(Request.Replace("STREAM", "true", StringComparison.Ordinal)));
        var choices = whole.GetProperty("choices").EnumerateArray().ToArray();
        Assert.Equal(4, choices.Length);
        Assert.Equal(4, streamed.Count);
        foreach (var choice in choices)
        {
            int index = choice.GetProperty("index").GetInt32();
            Assert.Equal(choice.GetProperty("text").GetString(), streamed[index].Text);
            Assert.Equal(choice.GetProperty("finish_reason").GetString(), streamed[index].FinishReason);
        }
        Assert.Equal(choices[0].GetProperty("text").GetString(), choices[1].GetProperty("text").GetString()); // greedy: n copies
    }

    [Fact]
    public async Task StopStringEndsTheTextBeforeIt()
    {
        var full = (await Host.PostOkAsync("/v1/completions", """{"prompt":"hello world","max_tokens":16,"temperature":0}"""))
            .GetProperty("choices")[0].GetProperty("text").GetString()!;
        // A stop string from the middle of the greedy text: the answer is the text before its first occurrence.
        string stop = full.Substring(full.Length / 2, 3);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        string request = ServerHost.Json(new { prompt = "hello world", max_tokens = 16, temperature = 0, stop });
        var choice = (await Host.PostOkAsync("/v1/completions", request)).GetProperty("choices")[0];
        Assert.Equal(expected, choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var streamed = ServerHost.JoinChoices(await Host.StreamAsync(ServerHost.Json(new { prompt = "hello world", max_tokens = 16, temperature = 0, stop = new[] { stop }, stream = true })));
        Assert.Equal((expected, "stop"), streamed[0]);
    }

    [Fact]
    public async Task SeededSamplingRepeatsAndChoicesDiffer()
    {
        const string Request = """{"prompt":"hello","max_tokens":10,"temperature":1.0,"top_p":0.9,"n":3,"seed":7}""";
        string[] Texts(JsonElement body) => [.. body.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()!)];
        var first = Texts(await Host.PostOkAsync("/v1/completions", Request));
        var second = Texts(await Host.PostOkAsync("/v1/completions", Request));
        Assert.Equal(first, second);
        Assert.True(first.Distinct().Count() > 1, string.Join(" | ", first));
    }

    [Fact]
    public async Task ConcurrentRequestsEachEqualTheRequestAlone()
    {
        string[] prompts = ["hello world", "the cat", "a b c", "once upon a time", "x", "tiny model"];
        string Request(string prompt, bool stream) => ServerHost.Json(new { prompt, max_tokens = 20, temperature = 0, stream });
        var alone = new List<string>();
        foreach (string prompt in prompts)
        {
            alone.Add((await Host.PostOkAsync("/v1/completions", Request(prompt, false))).GetProperty("choices")[0].GetProperty("text").GetString()!);
        }
        // Twice each prompt at once, half of them streamed, all in flight together.
        var tasks = prompts.SelectMany((prompt, index) => new[]
        {
            Task.Run(async () => (index, (await Host.PostOkAsync("/v1/completions", Request(prompt, false))).GetProperty("choices")[0].GetProperty("text").GetString()!)),
            Task.Run(async () => (index, ServerHost.JoinChoices(await Host.StreamAsync(Request(prompt, true)))[0].Text)),
        }).ToArray();
        foreach (var (index, text) in await Task.WhenAll(tasks))
        {
            Assert.Equal(alone[index], text);
        }
    }

    [Fact]
    public async Task ConcurrentSeededSamplingEachEqualsTheRequestAlone()
    {
        string Request(int index) => ServerHost.Json(new { prompt = $"prompt number {index}", max_tokens = 12 + index, temperature = 0.9, top_p = 0.95, seed = 1000 + index });
        string Text(JsonElement body) => body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        var alone = new List<string>();
        for (int index = 0; index < 6; index++)
        {
            alone.Add(Text(await Host.PostOkAsync("/v1/completions", Request(index))));
        }
        var together = await Task.WhenAll(Enumerable.Range(0, 6).Select(index => Task.Run(async () => Text(await Host.PostOkAsync("/v1/completions", Request(index))))));
        Assert.Equal(alone, together);
    }

    [Fact]
    public async Task MetricsCountRequestsTokensAndFirstTokens()
    {
        await Host.PostOkAsync("/v1/completions", """{"prompt":"hello","max_tokens":4,"temperature":0}""");
        using var response = await Host.Client.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n').Where(line => line.Length > 0 && line[0] != '#')
            .ToDictionary(line => line[..line.LastIndexOf(' ')], line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(lines["sharpformer_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"] >= 1);
        Assert.True(lines["sharpformer_tokens_generated_total"] >= 4);
        Assert.True(lines["sharpformer_time_to_first_token_seconds_count"] >= 1);
        Assert.True(lines["sharpformer_time_to_first_token_seconds_sum"] > 0);
        Assert.True(lines["sharpformer_tokens_per_second"] > 0);
        Assert.Equal(0, lines["sharpformer_queue_length"]);
        Assert.Equal(0, lines["sharpformer_requests_running"]);
    }
}
