using System.Net;
using System.Text.Json;

namespace Sharpformer.Tests.Server;

/// <summary>Every refused request: the status, and OpenAI's error JSON naming the field. The server keeps serving.</summary>
public sealed class ServerErrorTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    public static TheoryData<string, string, int, string?> BadRequests => new()
    {
        { "/v1/completions", """{"prompt":""", 400, null },
        { "/v1/completions", """["hello"]""", 400, null },
        { "/v1/completions", """{"max_tokens":5}""", 400, "prompt" },
        { "/v1/completions", """{"prompt":5}""", 400, "prompt" },
        { "/v1/completions", """{"prompt":[]}""", 400, "prompt" },
        { "/v1/completions", """{"prompt":"a","max_tokens":"8"}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt":"a","max_tokens":0}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt":"a","max_tokens":-3}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt":"a","max_tokens":200}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt":"a","temperature":-0.5}""", 400, "temperature" },
        { "/v1/completions", """{"prompt":"a","temperature":"hot"}""", 400, "temperature" },
        { "/v1/completions", """{"prompt":"a","temperature":2.5}""", 400, "temperature" },
        { "/v1/completions", """{"prompt":"a","temperature":1e39}""", 400, "temperature" },
        { "/v1/completions", """{"prompt":"a","top_p":0}""", 400, "top_p" },
        { "/v1/completions", """{"prompt":"a","top_p":1.5}""", 400, "top_p" },
        { "/v1/completions", """{"prompt":"a","n":0}""", 400, "n" },
        { "/v1/completions", """{"prompt":"a","n":1000}""", 400, "n" },
        { "/v1/completions", """{"prompt":"a","stop":[""]}""", 400, "stop" },
        { "/v1/completions", """{"prompt":"a","stop":[1]}""", 400, "stop" },
        { "/v1/completions", """{"prompt":"a","stream":"yes"}""", 400, "stream" },
        { "/v1/completions", """{"prompt":"a","seed":1.5}""", 400, "seed" },
        { "/v1/completions", """{"prompt":"a","echo":"yes"}""", 400, "echo" },
        { "/v1/completions", """{"prompt":"a","logprobs":6}""", 400, "logprobs" },
        { "/v1/completions", """{"prompt":"a","logprobs":-1}""", 400, "logprobs" },
        { "/v1/completions", """{"prompt":"a","stream_options":{"include_usage":true}}""", 400, "stream_options" },
        { "/v1/completions", """{"prompt":"a","stream":true,"stream_options":{"include_usage":1}}""", 400, "include_usage" },
        { "/v1/completions", """{"prompt":"a","model":"gpt-4"}""", 400, "model" },
        { "/v1/completions", """{"prompt":"a","max_tokens":1e20}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt":{"text":"a"}}""", 400, "prompt" },
        { "/v1/completions", """{"prompt":"a","top_p":null,"n":null,"model":null}""", 200, null },
        { "/v1/nothing-here", """{}""", 404, null },
        { "/v1/chat/completions", """{"model":"tiny-gpt2","messages":[{"role":"user","content":"hi"}]}""", 400, "model" },
        { "/v1/embeddings", """{"input":5}""", 400, "input" },
        { "/v1/embeddings", """{"input":[]}""", 400, "input" },
        { "/v1/embeddings", """{"input":"w5","model":"tiny-gpt2"}""", 400, "model" },
        { "/v1/embeddings", """{"input":"w5","encoding_format":"int8"}""", 400, "encoding_format" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInputIsRefusedNamingTheField(string path, string body, int status, string? param)
    {
        using var response = await fixture.Host.PostAsync(path, body);
        if (status == 200)
        {
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync()); // null means "default"
        }
        else
        {
            await AssertErrorAsync(response, status, param);
        }
        Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Client.GetAsync("/health")).StatusCode);
    }

    [Theory]
    [InlineData(1e-30)]
    [InlineData(1e-45)]
    public async Task AColdTemperatureIsGreedy(double temperature)
    {
        string Text(JsonElement body) => body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        var greedy = await fixture.Host.PostOkAsync("/v1/completions", """{"prompt":"hello","max_tokens":6,"temperature":0}""");
        var cold = await fixture.Host.PostOkAsync("/v1/completions", ServerHost.Json(new { prompt = "hello", max_tokens = 6, temperature }));
        Assert.Equal(Text(greedy), Text(cold));
    }

    [Fact]
    public async Task APromptLongerThanTheContextIsRefused()
    {
        string prompt = string.Join(" ", Enumerable.Repeat("hello world", 200));
        using var response = await fixture.Host.PostAsync("/v1/completions", ServerHost.Json(new { prompt, max_tokens = 1 }));
        await AssertErrorAsync(response, 400, "prompt");
        Assert.Contains("context_length_exceeded", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABodyOverTheLimitIs413()
    {
        string prompt = new('a', 100 * 1024); // the fixture's limit is 64 KiB
        using var response = await fixture.Host.PostAsync("/v1/completions", ServerHost.Json(new { prompt }));
        await AssertErrorAsync(response, 413, null);
    }

    internal static async Task AssertErrorAsync(HttpResponseMessage response, int status, string? param)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.True(error.TryGetProperty("code", out _));
        if (status is 400 or 413)
        {
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        }
    }
}
