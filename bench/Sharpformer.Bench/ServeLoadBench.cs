using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text;
using Sharpformer.Bench.Harness;
using Sharpformer.Models;
using Sharpformer.Pipelines;
using Sharpformer.Server;
using Sharpformer.Tokenizers;

namespace Sharpformer.Bench;

/// <summary>
/// Load test of the HTTP server on loopback: 50 concurrent streaming clients × 20 completions each over the bundled
/// tiny GPT-2, reporting throughput, time to first token (p50/p99), failures and peak memory. Bounded: 1,000 requests.
/// Then the continuous-batching speed-up: 8 concurrent clients with shared decode steps against one sequence at a
/// time (MaxBatchSize 1), on tiny-gpt2 and on a GPT-2 124M-shaped model with random weights.
/// </summary>
public static class ServeLoadBench
{
    public static void Run(BenchContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Selects("load"))
        {
            RunAsync(Console.Out).GetAwaiter().GetResult();
        }
        if (context.Selects("batching"))
        {
            BatchingAsync(Console.Out).GetAwaiter().GetResult();
        }
    }

    /// <summary>Tokens/s of <paramref name="clients"/> concurrent clients (greedy, non-streaming) with one at a time vs shared decode steps.</summary>
    public static async Task BatchingAsync(TextWriter output, int clients = 8)
    {
        ArgumentNullException.ThrowIfNull(output);
        string folder = BundledModel();
        var models = new (string Name, Func<TextGenerator> Load, int Requests, int MaxTokens)[]
        {
            ("tiny-gpt2", () => TextGenerator.Load(folder), 8, 64),
            // GPT-2's real vocabulary (50,257), so the random model's ids all decode.
            ("gpt2-124M (random)", () => new TextGenerator(Gpt2Model.CreateRandom(Gpt2Config.Named["gpt2"], 1), Tokenizer.FromFolder(Gpt2TokenizerFolder())), 1, 32),
        };
        foreach (var (name, load, requests, maxTokens) in models)
        {
            using var generator = load();
            double alone = await ClientsTokensPerSecondAsync(generator, maxBatchSize: 1, clients, requests, maxTokens);
            double batched = await ClientsTokensPerSecondAsync(generator, maxBatchSize: clients, clients, requests, maxTokens);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-20} {clients} clients × {requests} requests × {maxTokens} tokens: one at a time {alone,7:0.0} tok/s, batched {batched,7:0.0} tok/s, speed-up {batched / alone:0.00}×"));
            // The decode step alone, without HTTP, prefills or sampling: rows of one shared step against one row.
            var model = (IRowBatchingModel)generator.Model;
            double one = StepTokensPerSecond(model, 1), many = StepTokensPerSecond(model, clients);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-20} decode step alone: 1 row {one,7:0.0} tok/s, {clients} rows {many,7:0.0} tok/s, speed-up {many / one:0.00}×"));
        }
    }

    private static async Task<double> ClientsTokensPerSecondAsync(TextGenerator generator, int maxBatchSize, int clients, int requests, int maxTokens)
    {
        var options = new ServerOptions { Host = "127.0.0.1", Port = 0, MaxConcurrency = clients, MaxQueue = clients, MaxBatchSize = maxBatchSize };
        await using var app = SharpformerServer.Build(new ServedModels(generator, "model"), options);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(5) };
        long tokens = 0;
        var timer = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            for (int request = 0; request < requests; request++)
            {
                string body = $$"""{"prompt":"client {{client}} asks question {{request}}","max_tokens":{{maxTokens}},"temperature":0}""";
                using var response = await http.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
                response.EnsureSuccessStatusCode();
                using var document = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                Interlocked.Add(ref tokens, document.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            }
        })));
        double seconds = timer.Elapsed.TotalSeconds;
        await app.StopAsync();
        return tokens / seconds;
    }

    /// <summary>Tokens/s of IRowDecoder.Step over <paramref name="rows"/> sequences of 16 cached tokens (best of 3 runs of 16 steps).</summary>
    private static double StepTokensPerSecond(IRowBatchingModel model, int rows)
    {
        const int Context = 16, Steps = 16;
        var decoder = model.CreateRowDecoder();
        var logits = new float[rows * decoder.VocabSize];
        int[] tokens = [.. Enumerable.Range(0, rows).Select(row => (row * 37 + 11) % decoder.VocabSize)];
        double best = double.MaxValue;
        for (int run = 0; run < 4; run++)
        {
            var caches = Enumerable.Range(0, rows).Select(row =>
            {
                var cache = decoder.CreateCache(Context + Steps);
                decoder.Prefill([.. Enumerable.Range(row, Context)], cache, allPositions: false, logits);
                return cache;
            }).ToList();
            var timer = Stopwatch.StartNew();
            for (int step = 0; step < Steps; step++)
            {
                decoder.Step(tokens, caches, logits);
            }
            if (run > 0) // the first run warms up
            {
                best = Math.Min(best, timer.Elapsed.TotalSeconds);
            }
        }
        return rows * Steps / best;
    }

    private static string Gpt2TokenizerFolder()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            string candidate = Path.Combine(directory.FullName, "tests", "Sharpformer.Tests", "Fixtures", "tokenizers", "gpt2");
            if (File.Exists(Path.Combine(candidate, "vocab.json")))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("tests/Sharpformer.Tests/Fixtures/tokenizers/gpt2 is not above the bench binary");
    }

    public static async Task RunAsync(TextWriter output, int clients = 50, int requestsPerClient = 20, int maxTokens = 32)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var generator = TextGenerator.Load(BundledModel());
        // The queue holds every client, so a full run measures waiting rather than 429s; 16 requests share decode steps.
        var options = new ServerOptions { Host = "127.0.0.1", Port = 0, MaxConcurrency = 16, MaxQueue = clients };
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
