using Sharpformer.Generation;
using Sharpformer.Models;
using Sharpformer.Pipelines;

namespace Sharpformer.Tests.Generation;

/// <summary>
/// Continuous batching over the bundled tiny GPT-2: sequences queued together share decode steps, yet each one's
/// tokens equal the same request generated alone (greedy, and seeded sampling with its own options).
/// </summary>
public sealed class ContinuousBatcherTests : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly TextGenerator _generator = TextGenerator.Load(Server.ServerHost.GptFolder);

    public void Dispose() => _generator.Dispose();

    private Gpt2Model Model => (Gpt2Model)_generator.Model;

    private GenerationOptions WithText(GenerationOptions options) => options with { Detokenizer = ids => _generator.Tokenizer.Decode([.. ids]) };

    private static async Task<(int[] Ids, FinishReason Finish, string Text)> CollectAsync(IAsyncEnumerable<GeneratedToken> tokens)
    {
        var ids = new List<int>();
        FinishReason? finish = null;
        string text = "";
        await foreach (var token in tokens)
        {
            ids.Add(token.TokenId);
            finish = token.FinishReason ?? finish;
            text += token.TextDelta;
        }
        return ([.. ids], finish!.Value, text);
    }

    public static TheoryData<bool> Sampling => new() { false, true };

    [Theory]
    [MemberData(nameof(Sampling))]
    public async Task QueuedTogetherEachEqualsItsSoloRun(bool sampling)
    {
        string[] prompts = ["hello world", "the cat", "a", "once upon a time there was", "tiny model says"];
        var options = prompts.Select((prompt, index) => WithText(new GenerationOptions
        {
            MaxNewTokens = 6 + 5 * index, // different budgets: rows leave at different steps
            Temperature = sampling ? 0.7f + 0.1f * index : 0f,
            TopK = 0,
            TopP = sampling ? 0.9f : 1f,
            Seed = sampling ? (ulong)(100 + index) : null,
            RepetitionPenalty = index == 2 ? 1.3f : 1f,
        })).ToArray();
        var solo = prompts.Select((prompt, index) => _generator.Generate(prompt, options[index], Token)).ToArray();

        using var batcher = new ContinuousBatcher(Model, maxBatchSize: 8, start: false);
        var streams = prompts.Select((prompt, index) => batcher.StreamAsync(_generator.EncodePrompt(prompt), options[index], cancellationToken: Token)).ToArray();
        batcher.Start(); // every sequence is queued: the first admission takes them all
        var batched = await Task.WhenAll(streams.Select(CollectAsync));

        for (int index = 0; index < prompts.Length; index++)
        {
            Assert.Equal(solo[index].GeneratedIds, batched[index].Ids);
            Assert.Equal(solo[index].FinishReason, batched[index].Finish);
            Assert.Equal(solo[index].Text, batched[index].Text);
        }
        Assert.Equal(prompts.Length, batcher.PeakRows);
        // One step per token after the first, shared: far fewer steps than the tokens stepped.
        Assert.True(batcher.Steps < batcher.RowsStepped / 2, $"{batcher.Steps} steps for {batcher.RowsStepped} rows");
        Assert.Equal(batched.Sum(result => result.Ids.Length - 1), batcher.RowsStepped);
    }

    [Fact]
    public async Task StopStringsAndLateJoinersKeepTheirOwnResults()
    {
        var plain = WithText(new GenerationOptions { MaxNewTokens = 24, Temperature = 0 });
        string full = _generator.Generate("hello world", plain, Token).Text;
        string stop = full.Substring(full.Length / 2, 2);
        var stopping = plain with { StopStrings = [stop] };
        var expected = _generator.Generate("hello world", stopping, Token);

        using var batcher = new ContinuousBatcher(Model, maxBatchSize: 2);
        var first = CollectAsync(batcher.StreamAsync(_generator.EncodePrompt("the cat"), plain, cancellationToken: Token));
        await Task.Delay(5, Token);
        // Joins while the first runs (or after it: either way its tokens must not change).
        var second = await CollectAsync(batcher.StreamAsync(_generator.EncodePrompt("hello world"), stopping, cancellationToken: Token));
        Assert.Equal(expected.GeneratedIds, second.Ids);
        Assert.Equal(FinishReason.Stop, second.Finish);
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], second.Text);
        Assert.Equal(_generator.Generate("the cat", plain, Token).GeneratedIds, (await first).Ids);
    }

    [Fact]
    public async Task ALeavingReaderFreesItsRowAtOnce()
    {
        // Each step takes at least 2 ms, so 100 tokens would take 200 ms: a reader that leaves is seen long before.
        using var batcher = new ContinuousBatcher(new SlowModel(Model), maxBatchSize: 1);
        var options = new GenerationOptions { MaxNewTokens = 100, Temperature = 0, EosTokenIds = [] };
        await foreach (var token in batcher.StreamAsync(_generator.EncodePrompt("hello"), options, cancellationToken: Token))
        {
            break; // the client left after one token
        }
        // With one row, the next request can only run once the abandoned one has left.
        var next = await CollectAsync(batcher.StreamAsync(_generator.EncodePrompt("the cat"), options with { MaxNewTokens = 3 }, cancellationToken: Token));
        Assert.Equal(3, next.Ids.Length);
        Assert.True(batcher.RowsStepped < 60, $"the abandoned sequence kept decoding: {batcher.RowsStepped} rows stepped");

        using var cancel = new CancellationTokenSource();
        var cancelled = batcher.StreamAsync(_generator.EncodePrompt("hello"), options, cancellationToken: cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CollectAsync(cancelled));
        Assert.Equal(3, (await CollectAsync(batcher.StreamAsync(_generator.EncodePrompt("a b"), options with { MaxNewTokens = 3 }, cancellationToken: Token))).Ids.Length);
    }

    [Fact]
    public void BadRequestsAreRefusedBeforeQueueing()
    {
        using var batcher = new ContinuousBatcher(Model, maxBatchSize: 2);
        var error = Assert.Throws<ArgumentException>(() => batcher.StreamAsync([1, 2, 3], new GenerationOptions { MaxNewTokens = 126 }));
        Assert.Contains("context of 128", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => batcher.StreamAsync([1], new GenerationOptions { NumBeams = 2 }));
        Assert.Throws<ArgumentException>(() => batcher.StreamAsync([], new GenerationOptions()));
        Assert.Equal(0, batcher.Waiting);
    }

    [Fact]
    public void RowsWithTheirOwnCacheLengthsMatchARecompute()
    {
        // Three sequences of different lengths in one step: each row's logits equal a full forward over that sequence.
        int[][] sequences = [[5, 17, 300], [42], [7, 8, 9, 10, 11, 12, 13]];
        int[] next = [99, 123, 4];
        var decoder = Model.CreateRowDecoder();
        int vocab = decoder.VocabSize;
        var caches = sequences.Select(ids =>
        {
            var cache = decoder.CreateCache(ids.Length + 1);
            decoder.Prefill(ids, cache, allPositions: false, new float[vocab]);
            return cache;
        }).ToArray();
        var logits = new float[sequences.Length * vocab];
        decoder.Step(next, caches, logits);
        for (int r = 0; r < sequences.Length; r++)
        {
            int[] whole = [.. sequences[r], next[r]];
            var expected = Model.Forward(whole, 1, whole.Length).Logits.Span.Slice((whole.Length - 1) * vocab, vocab);
            Goldens.AssertClose(expected, logits.AsSpan(r * vocab, vocab), 1e-4f, $"row {r}");
            Assert.Equal(whole.Length, caches[r].Length);
        }
    }

    [Fact]
    public async Task LogprobsAreTheRecomputedLogSoftmax()
    {
        using var batcher = new ContinuousBatcher(Model, maxBatchSize: 2);
        int[] prompt = _generator.EncodePrompt("hello world");
        var tokens = new List<GeneratedToken>();
        await foreach (var token in batcher.StreamAsync(prompt, new GenerationOptions { MaxNewTokens = 5, Temperature = 0 }, topLogprobs: 3, Token))
        {
            tokens.Add(token);
        }
        int[] whole = [.. prompt, .. tokens.Select(token => token.TokenId)];
        var logits = Model.Forward(whole, 1, whole.Length).Logits.Span;
        int vocab = Model.VocabSize;
        for (int i = 0; i < tokens.Count; i++)
        {
            var row = logits.Slice((prompt.Length - 1 + i) * vocab, vocab).ToArray();
            double max = row.Max(), logTotal = Math.Log(row.Sum(value => Math.Exp(value - max))) + max;
            var logprobs = tokens[i].Logprobs!;
            Assert.Equal(row[tokens[i].TokenId] - logTotal, logprobs.Logprob, 1e-4);
            int[] best = [.. Enumerable.Range(0, vocab).OrderByDescending(id => row[id]).Take(3)];
            Assert.Equal(best, logprobs.TopIds);
            Assert.Equal(logprobs.TopIds[0], tokens[i].TokenId); // greedy takes the most likely token
            Assert.Equal(best.Select(id => row[id] - logTotal), logprobs.TopLogprobs.Select(value => (double)value), new ToleranceComparer(1e-4));
        }
    }

    /// <summary>The tiny GPT-2 with a slow decode step.</summary>
    private sealed class SlowModel(Gpt2Model inner) : IRowBatchingModel
    {
        public string ModelType => inner.ModelType;

        public int VocabSize => inner.VocabSize;

        public int MaxPositions => inner.MaxPositions;

        public bool IsEncoderDecoder => false;

        public SpecialTokens SpecialTokens => inner.SpecialTokens;

        public IGenerationSession StartSession(PromptBatch prompts, int maxNewTokens) => inner.StartSession(prompts, maxNewTokens);

        public IRowDecoder CreateRowDecoder() => new SlowDecoder(inner.CreateRowDecoder());

        public void Dispose() { }

        private sealed class SlowDecoder(IRowDecoder decoder) : IRowDecoder
        {
            public int VocabSize => decoder.VocabSize;

            public KvCache CreateCache(int capacity) => decoder.CreateCache(capacity);

            public void Prefill(ReadOnlySpan<int> promptIds, KvCache cache, bool allPositions, Span<float> logits) =>
                decoder.Prefill(promptIds, cache, allPositions, logits);

            public void Step(ReadOnlySpan<int> tokens, IReadOnlyList<KvCache> caches, Span<float> logits)
            {
                Thread.Sleep(2);
                decoder.Step(tokens, caches, logits);
            }
        }
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
