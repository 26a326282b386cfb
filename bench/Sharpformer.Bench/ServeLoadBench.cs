using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text;
using Sharpformer.Bench.Harness;
using Sharpformer.Pipelines;
using Sharpformer.Server;

namespace Sharpformer.Bench;

/// <summary>
/// Load test of the HTTP server on loopback: 50 concurrent streaming clients × 20 completions each over the bundled
/// tiny GPT-2, reporting throughput, time to first token (p50/p99), failures and peak memory. Bounded: 1,000 requests.
/// </summary>
public static class ServeLoadBench
{
    public static void Run(BenchContext context) => RunAsync(Console.Out).GetAwaiter().GetResult();

    public static async Task RunAsync(TextWriter output, int clients = 50, int requestsPerClient = 20, int maxTokens = 32)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var generator = TextGenerator.Load(BundledModel());
        // The queue holds every client, so a full run measures waiting rather than 429s.
        var options = new ServerOptions { Host = "127.0.0.1", Port = 0, MaxConcurrency = Environment.ProcessorCount * 2, MaxQueue = clients };
        await using var app = SharpformerServer.Build(new ServedModels(generator, "tiny-gpt2"), options);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(2) };
        var firstTokenSeconds = new System.Collections.Concurrent.ConcurrentBag<double>();
        int failures = 0;
        long tokens = 0;
        var timer = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            for (int request = 0; request < requestsPerClient; request++)
            {
                try
                {
                    string body = $$"""{"prompt":"client {{client}} request {{request}}","max_tokens":{{maxTokens}},"temperature":0,"stream":true}""";
                    var started = Stopwatch.GetTimestamp();
                    using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
                    response.EnsureSuccessStatusCode();
                    await using var stream = await response.Content.ReadAsStreamAsync();
                    bool first = true;
                    bool done = false;
                    await foreach (var item in SseParser.Create(stream).EnumerateAsync())
                    {
                        if (item.Data == "[DONE]")
                        {
                            done = true;
                            continue;
                        }
                        if (first)
                        {
                            firstTokenSeconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                            first = false;
                        }
                        Interlocked.Increment(ref tokens);
                    }
                    if (!done)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or IOException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })));
        double seconds = timer.Elapsed.TotalSeconds;
        // The server's own count: a chunk can carry several tokens (a character split across tokens).
        string metrics = await http.GetStringAsync("/metrics");
        double generated = double.Parse(metrics.Split('\n').First(line => line.StartsWith("sharpformer_tokens_generated_total ", StringComparison.Ordinal)).Split(' ')[1],
            CultureInfo.InvariantCulture);
        await app.StopAsync();
        var sorted = firstTokenSeconds.Order().ToArray();
        double Percentile(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        int total = clients * requestsPerClient;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{clients} streaming clients × {requestsPerClient} requests, max_tokens {maxTokens}, {options.MaxConcurrency} slots: {total} requests in {seconds:0.0} s"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{total / seconds:0.0} requests/s, {generated / seconds:0} tokens/s ({tokens} chunks), TTFT p50 {Percentile(0.5) * 1000:0} ms, p99 {Percentile(0.99) * 1000:0} ms, failures {failures}, peak RSS {Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024):0} MiB"));
    }

    private static string BundledModel()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            string candidate = Path.Combine(directory.FullName, "models", "tiny-gpt2");
            if (File.Exists(Path.Combine(candidate, "config.json")))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("models/tiny-gpt2 is not above the bench binary");
    }
}
