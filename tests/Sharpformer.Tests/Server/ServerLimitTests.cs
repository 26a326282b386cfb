using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using Sharpformer.Server;

namespace Sharpformer.Tests.Server;

/// <summary>API keys, the concurrency gate (429 with Retry-After), and a disconnect freeing its slot.</summary>
public sealed class ServerLimitTests
{
    [Fact]
    public async Task AnApiKeyGuardsV1ButNotHealth()
    {
        await using var host = await ServerHost.StartAsync(new ServerOptions { ApiKey = "sekret" });
        using (var missing = await host.Client.GetAsync("/v1/models"))
        {
            await ServerErrorTests.AssertErrorAsync(missing, 401, null);
        }
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/models"))
        {
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "guess");
            await ServerErrorTests.AssertErrorAsync(await host.Client.SendAsync(wrong), 401, null);
        }
        using (var right = new HttpRequestMessage(HttpMethod.Post, "/v1/completions"))
        {
            right.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sekret");
            right.Content = new StringContent("""{"prompt":"hi","max_tokens":2}""", Encoding.UTF8, "application/json");
            Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(right)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task AFullGateAnswers429WithRetryAfter()
    {
        var gate = new RequestGate(1, 0);
        await using var host = await ServerHost.StartAsync(gate: gate);
        var lease = await gate.EnterAsync(CancellationToken.None);
        Assert.NotNull(lease);
        using (var busy = await host.PostAsync("/v1/completions", """{"prompt":"hi","max_tokens":2}"""))
        {
            Assert.NotNull(busy.Headers.RetryAfter);
            await ServerErrorTests.AssertErrorAsync(busy, 429, null);
        }
        lease.Dispose();
        using var free = await host.PostAsync("/v1/completions", """{"prompt":"hi","max_tokens":2}""");
        Assert.Equal(HttpStatusCode.OK, free.StatusCode);
        Assert.Equal(0, gate.Admitted);
    }

    [Fact]
    public async Task QueuedRequestsWaitForASlot()
    {
        var gate = new RequestGate(1, 1);
        var first = await gate.EnterAsync(CancellationToken.None);
        var second = gate.EnterAsync(CancellationToken.None).AsTask();
        Assert.Null(await gate.EnterAsync(CancellationToken.None)); // one running, one queued: full
        Assert.False(second.IsCompleted);
        first!.Dispose();
        (await second)!.Dispose();
        Assert.Equal(0, gate.Admitted);
    }

    [Fact]
    public async Task AClientThatLeavesMidStreamFreesItsSlot()
    {
        var gate = new RequestGate(1, 0);
        await using var host = await ServerHost.StartAsync(gate: gate);
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions"))
        {
            // About 30,000 tokens, many seconds of decoding: a slot freed sooner means the hang-up stopped it.
            string body = ServerHost.Json(new { prompt = Enumerable.Repeat("hi", 32).ToArray(), n = 8, max_tokens = 120, temperature = 0, stream = true });
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            await using var events = SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator();
            Assert.True(await events.MoveNextAsync()); // generation is under way; now hang up
        }
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (gate.Admitted != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(0, gate.Admitted);
    }

    [Fact]
    public void ServeRefusesABadPortWithOneErrorLine()
    {
        var (code, _, error) = Sharpformer.Tests.Cli.CliTests.Run("serve", "--port", "70000");
        Assert.Equal(1, code);
        Assert.Contains("--port", error, StringComparison.Ordinal);
        (code, _, error) = Sharpformer.Tests.Cli.CliTests.Run("serve", "--max-batch", "0");
        Assert.Equal(1, code);
        Assert.Contains("--max-batch", error, StringComparison.Ordinal);
    }
}
