using System.Text.Json;
using Sharpformer.Models;

namespace Sharpformer.Tests.Server;

/// <summary>logprobs, echo and stream_options.include_usage on /v1/completions, in OpenAI's legacy layout.</summary>
public sealed class LogprobsServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerHost Host => fixture.Host;

    private const string Prompt = "hello world";

    private static float?[] Floats(JsonElement array) =>
        [.. array.EnumerateArray().Select(value => value.ValueKind == JsonValueKind.Null ? (float?)null : value.GetSingle())];

    [Fact]
    public async Task GreedyTokensCarryTheirTopLogprobsAndOffsetsFromThePromptStart()
    {
        var body = await Host.PostOkAsync("/v1/completions", ServerHost.Json(new { prompt = Prompt, max_tokens = 8, temperature = 0, logprobs = 2 }));
        var choice = body.GetProperty("choices")[0];
        var logprobs = choice.GetProperty("logprobs");
        string[] tokens = [.. logprobs.GetProperty("tokens").EnumerateArray().Select(token => token.GetString()!)];
        var values = Floats(logprobs.GetProperty("token_logprobs"));
        int[] offsets = [.. logprobs.GetProperty("text_offset").EnumerateArray().Select(offset => offset.GetInt32())];
        var top = logprobs.GetProperty("top_logprobs").EnumerateArray().ToArray();
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), tokens.Length);
        Assert.Equal(Prompt.Length, offsets[0]); // OpenAI counts offsets from the start of the prompt
        for (int i = 0; i < tokens.Length; i++)
        {
            if (i > 0)
            {
                Assert.Equal(offsets[i - 1] + tokens[i - 1].Length, offsets[i]);
            }
            var alternatives = top[i].EnumerateObject().ToDictionary(entry => entry.Name, entry => entry.Value.GetSingle());
            Assert.InRange(alternatives.Count, 1, 3); // the top 2 and the chosen token (greedy: one of them)
            Assert.Equal(values[i], alternatives[tokens[i]]);
            Assert.Equal(alternatives.Values.Max(), values[i]!.Value); // greedy picks the most likely token
            Assert.True(values[i] <= 0);
        }
    }

    [Fact]
    public async Task EchoPrependsThePromptWithItsRecomputedLogprobs()
    {
        var plain = (await Host.PostOkAsync("/v1/completions", ServerHost.Json(new { prompt = Prompt, max_tokens = 6, temperature = 0, logprobs = 1 })))
            .GetProperty("choices")[0];
        var echoed = (await Host.PostOkAsync("/v1/completions", ServerHost.Json(new { prompt = Prompt, max_tokens = 6, temperature = 0, logprobs = 1, echo = true })))
            .GetProperty("choices")[0];
        Assert.Equal(Prompt + plain.GetProperty("text").GetString(), echoed.GetProperty("text").GetString());
        int[] promptIds = Host.Models.Generator.EncodePrompt(Prompt);
        var values = Floats(echoed.GetProperty("logprobs").GetProperty("token_logprobs"));
        var plainValues = Floats(plain.GetProperty("logprobs").GetProperty("token_logprobs"));
        Assert.Equal(promptIds.Length + plainValues.Length, values.Length);
        Assert.Null(values[0]); // the first prompt token has no context
        Assert.Equal(JsonValueKind.Null, echoed.GetProperty("logprobs").GetProperty("top_logprobs")[0].ValueKind);
        Assert.Equal(0, echoed.GetProperty("logprobs").GetProperty("text_offset")[0].GetInt32());
        Assert.Equal(plainValues, values[promptIds.Length..]);

        // Each prompt logprob is log_softmax of a plain forward over the prompt, at the previous position.
        var model = (Gpt2Model)Host.Models.Generator.Model;
        var logits = model.Forward(promptIds, 1, promptIds.Length).Logits.Span;
        int vocab = model.VocabSize;
        for (int t = 1; t < promptIds.Length; t++)
        {
            var row = logits.Slice((t - 1) * vocab, vocab).ToArray();
            double max = row.Max(), logTotal = Math.Log(row.Sum(value => Math.Exp(value - max))) + max;
            Assert.Equal(row[promptIds[t]] - logTotal, values[t]!.Value, 1e-4);
        }

        var echoOnly = (await Host.PostOkAsync("/v1/completions", ServerHost.Json(new { prompt = Prompt, max_tokens = 6, temperature = 0, echo = true })))
            .GetProperty("choices")[0];
        Assert.Equal(echoed.GetProperty("text").GetString(), echoOnly.GetProperty("text").GetString());
        Assert.Equal(JsonValueKind.Null, echoOnly.GetProperty("logprobs").ValueKind);
    }

    [Fact]
    public async Task StreamedLogprobsAndUsageMatchTheWholeResponse()
    {
        var request = new { prompt = Prompt, max_tokens = 10, temperature = 0, logprobs = 3, echo = true };
        var whole = await Host.PostOkAsync("/v1/completions", ServerHost.Json(request));
        var events = await Host.StreamAsync(ServerHost.Json(new
        {
            request.prompt, request.max_tokens, request.temperature, request.logprobs, request.echo, stream = true,
            stream_options = new { include_usage = true },
        }));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(data => JsonDocument.Parse(data).RootElement).ToList();
        var usage = chunks[^1];
        Assert.Empty(usage.GetProperty("choices").EnumerateArray());
        Assert.Equal(whole.GetProperty("usage").ToString(), usage.GetProperty("usage").ToString());
        var tokens = new List<string>();
        var values = new List<float?>();
        var offsets = new List<int>();
        string text = "";
        foreach (var chunk in chunks.SkipLast(1))
        {
            var choice = chunk.GetProperty("choices")[0];
            text += choice.GetProperty("text").GetString();
            var logprobs = choice.GetProperty("logprobs");
            tokens.AddRange(logprobs.GetProperty("tokens").EnumerateArray().Select(token => token.GetString()!));
            values.AddRange(Floats(logprobs.GetProperty("token_logprobs")));
            offsets.AddRange(logprobs.GetProperty("text_offset").EnumerateArray().Select(offset => offset.GetInt32()));
        }
        var expected = whole.GetProperty("choices")[0];
        Assert.Equal(expected.GetProperty("text").GetString(), text);
        Assert.Equal(expected.GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(token => token.GetString()!), tokens);
        Assert.Equal(Floats(expected.GetProperty("logprobs").GetProperty("token_logprobs")), values);
        Assert.Equal(expected.GetProperty("logprobs").GetProperty("text_offset").EnumerateArray().Select(offset => offset.GetInt32()), offsets);
    }

    [Fact]
    public async Task StreamsWithoutIncludeUsageHaveNoUsageChunk()
    {
        var events = await Host.StreamAsync(ServerHost.Json(new { prompt = Prompt, max_tokens = 4, temperature = 0, stream = true }));
        Assert.All(events.SkipLast(1), data =>
        {
            var chunk = JsonDocument.Parse(data).RootElement;
            Assert.NotEmpty(chunk.GetProperty("choices").EnumerateArray());
            Assert.False(chunk.TryGetProperty("usage", out _));
        });
    }
}
