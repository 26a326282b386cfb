using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;

namespace Sharpformer.Tests.Server;

/// <summary>/v1/chat/completions over a copy of the tiny GPT-2 with a ChatML template, by raw HTTP and by the official OpenAI client.</summary>
public sealed class ChatServerTests(ChatServerFixture fixture) : IClassFixture<ChatServerFixture>
{
    private ServerHost Host => fixture.Host;

    // What ChatML makes of the conversation below, written out by hand.
    private const string RenderedPrompt = "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n";

    private const string Messages = """[{"role":"system","content":"You are terse."},{"role":"user","content":"Hi there"}]""";

    [Fact]
    public async Task ChatIsTheCompletionOfTheTemplatedPrompt()
    {
        var chat = await Host.PostOkAsync("/v1/chat/completions", $$"""{"model":"tiny-gpt2","messages":{{Messages}},"max_tokens":10,"temperature":0}""");
        var completion = await Host.PostOkAsync("/v1/completions", ServerHost.Json(new { prompt = RenderedPrompt, max_tokens = 10, temperature = 0 }));
        Assert.StartsWith("chatcmpl-", chat.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("chat.completion", chat.GetProperty("object").GetString());
        var choice = Assert.Single(chat.GetProperty("choices").EnumerateArray());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(completion.GetProperty("choices")[0].GetProperty("text").GetString(), choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), choice.GetProperty("finish_reason").GetString());
        Assert.Equal(completion.GetProperty("usage").ToString(), chat.GetProperty("usage").ToString());
        Assert.Equal(Host.Models.Generator.EncodePrompt(RenderedPrompt).Length, chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task StreamedChatHasTheRoleThenTheSameContentThenUsage()
    {
        string request = $$"""{"messages":{{Messages}},"max_tokens":12,"temperature":0,"n":2,STREAM}""";
        var whole = await Host.PostOkAsync("/v1/chat/completions", request.Replace("STREAM", "\"stream\":false", StringComparison.Ordinal));
        var events = await Host.StreamAsync(request.Replace("STREAM", "\"stream\":true,\"stream_options\":{\"include_usage\":true}", StringComparison.Ordinal), "/v1/chat/completions");
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(data => JsonDocument.Parse(data).RootElement).ToList();
        Assert.All(chunks, chunk => Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString()));
        var usage = chunks[^1];
        Assert.Empty(usage.GetProperty("choices").EnumerateArray());
        Assert.Equal(whole.GetProperty("usage").ToString(), usage.GetProperty("usage").ToString());
        for (int index = 0; index < 2; index++)
        {
            var deltas = chunks.SkipLast(1).Select(chunk => chunk.GetProperty("choices")[0]).Where(choice => choice.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal("assistant", deltas[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.All(deltas.Skip(1), delta => Assert.False(delta.GetProperty("delta").TryGetProperty("role", out _)));
            var content = new StringBuilder();
            foreach (var delta in deltas)
            {
                content.Append(delta.GetProperty("delta").TryGetProperty("content", out var piece) ? piece.GetString() : "");
            }
            var expected = whole.GetProperty("choices")[index];
            Assert.Equal(expected.GetProperty("message").GetProperty("content").GetString(), content.ToString());
            Assert.Equal(expected.GetProperty("finish_reason").GetString(), deltas[^1].GetProperty("finish_reason").GetString());
            Assert.All(deltas.SkipLast(1), delta => Assert.Equal(JsonValueKind.Null, delta.GetProperty("finish_reason").ValueKind));
        }
    }

    [Fact]
    public async Task WithoutMaxTokensTheReplyMayFillTheContext()
    {
        var chat = await Host.PostOkAsync("/v1/chat/completions", $$"""{"messages":{{Messages}},"temperature":0}""");
        var usage = chat.GetProperty("usage");
        Assert.True(usage.GetProperty("total_tokens").GetInt32() <= 128);
        Assert.True(usage.GetProperty("completion_tokens").GetInt32() > 16, "the chat default is not the completions default of 16");
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "messages")]
    [InlineData("""{"prompt":"hi"}""", "messages")]
    [InlineData("""{"messages":[{"content":"hi"}]}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":5}]}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"logprobs":true}""", "logprobs")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"max_tokens":500}""", "max_tokens")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o"}""", "model")]
    public async Task BadChatRequestsNameTheField(string body, string param)
    {
        using var response = await Host.PostAsync("/v1/chat/completions", body);
        await ServerErrorTests.AssertErrorAsync(response, 400, param);
    }

    [Fact]
    public async Task TextPartsAreJoinedAsOpenAiSendsThem()
    {
        var parts = await Host.PostOkAsync("/v1/chat/completions",
            """{"messages":[{"role":"system","content":[{"type":"text","text":"You are "},{"type":"text","text":"terse."}]},{"role":"user","content":"Hi there"}],"max_tokens":6,"temperature":0}""");
        var plain = await Host.PostOkAsync("/v1/chat/completions", $$"""{"messages":{{Messages}},"max_tokens":6,"temperature":0}""");
        Assert.Equal(plain.GetProperty("choices").ToString(), parts.GetProperty("choices").ToString());
    }

    [Fact]
    public async Task TheOfficialChatClientGetsTheSameReplyStreamedOrNot()
    {
        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(Host.Client.BaseAddress!, "/v1") })
            .GetChatClient("tiny-gpt2");
        ChatMessage[] messages = [new SystemChatMessage("You are terse."), new UserChatMessage("Hi there")];
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 };
        ChatCompletion completion = (await client.CompleteChatAsync(messages, options)).Value;
        var raw = await Host.PostOkAsync("/v1/chat/completions", $$"""{"messages":{{Messages}},"max_tokens":10,"temperature":0}""");
        Assert.Equal(raw.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), completion.Content[0].Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(raw.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), completion.Usage.InputTokenCount);

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
            finish = update.FinishReason ?? finish;
        }
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
        Assert.Equal(completion.FinishReason, finish);
    }
}
