using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sharpformer.Generation;
using Sharpformer.Models;
using Sharpformer.Pipelines;

namespace Sharpformer.Server;

/// <summary>
/// Where the server's generations run: a <see cref="ContinuousBatcher"/> for models that support it (GPT-2: concurrent
/// requests share decode steps), otherwise one decoding thread per generation, as <see cref="TextGenerator"/> streams.
/// </summary>
public sealed class GenerationScheduler : IDisposable
{
    private readonly TextGenerator _generator;
    private readonly ContinuousBatcher? _batcher;

    public GenerationScheduler(TextGenerator generator, int maxBatchSize)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        _batcher = generator.Model is IRowBatchingModel model ? new ContinuousBatcher(model, maxBatchSize) : null;
    }

    /// <summary>Null when the model runs one generation at a time.</summary>
    public ContinuousBatcher? Batcher => _batcher;

    /// <summary>Tokens of one generation with their text deltas (and log-probabilities when <paramref name="topLogprobs"/> is set).</summary>
    public IAsyncEnumerable<GeneratedToken> StreamAsync(int[] promptIds, GenerationOptions options, int? topLogprobs, CancellationToken cancellationToken)
    {
        var withText = options with { Detokenizer = ids => _generator.Tokenizer.Decode(ids is int[] array ? array : [.. ids]) };
        if (_batcher is not null)
        {
            return _batcher.StreamAsync(promptIds, withText, topLogprobs, cancellationToken);
        }
        if (topLogprobs is not null)
        {
            throw RequestException.Invalid("logprobs", $"logprobs need a model that supports batched decoding; {_generator.Model.ModelType} does not");
        }
        return Generator.GenerateStreamAsync(_generator.Model, promptIds, withText, cancellationToken);
    }

    /// <summary>The same, counted for /metrics (time to first token for the request's first generation).</summary>
    internal async IAsyncEnumerable<GeneratedToken> StreamAsync(int[] promptIds, GenerationOptions options, int? topLogprobs, ServerMetrics metrics,
        long arrival, bool firstOfRequest, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        int tokens = 0;
        try
        {
            await foreach (var token in StreamAsync(promptIds, options, topLogprobs, cancellationToken).ConfigureAwait(false))
            {
                if (tokens++ == 0 && firstOfRequest)
                {
                    metrics.CountFirstToken(Stopwatch.GetElapsedTime(arrival));
                }
                yield return token;
            }
        }
        finally
        {
            metrics.CountGeneration(tokens, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>
    /// The prompt's own log-probabilities (echo with logprobs): one forward over every position; entry 0 is null,
    /// since the first token has no context.
    /// </summary>
    public Task<TokenLogprobs?[]> PromptLogprobsAsync(int[] promptIds, int top, CancellationToken cancellationToken)
    {
        if (_generator.Model is not IRowBatchingModel model)
        {
            throw RequestException.Invalid("echo", $"prompt logprobs need a model that supports batched decoding; {_generator.Model.ModelType} does not");
        }
        return Task.Run(() =>
        {
            var decoder = model.CreateRowDecoder();
            int vocab = decoder.VocabSize;
            var logits = new float[promptIds.Length * vocab];
            decoder.Prefill(promptIds, decoder.CreateCache(promptIds.Length), allPositions: true, logits);
            var scratch = new float[vocab];
            var result = new TokenLogprobs?[promptIds.Length];
            for (int t = 1; t < promptIds.Length; t++)
            {
                // The logits at position t - 1 predict token t.
                result[t] = TokenLogprobs.From(logits.AsSpan((t - 1) * vocab, vocab), promptIds[t], top, scratch);
            }
            return result;
        }, cancellationToken);
    }

    public void Dispose() => _batcher?.Dispose();
}
