using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Sharpformer.Models;

namespace Sharpformer.Generation;

/// <summary>
/// Continuous batching (Orca, vLLM): concurrent generations share decode steps. One thread owns the model; each step
/// it admits waiting sequences (each prefilled alone into its own cache), then runs one forward over every active
/// sequence, one token each, and hands each its token. A sequence that finishes or whose reader leaves is dropped
/// before the next step, freeing its row. Each sequence keeps its own options, seed, stop strings and budget, so its
/// tokens are those of a solo run (up to float rounding: a matmul over several rows may sum in another order).
/// </summary>
public sealed class ContinuousBatcher : IDisposable
{
    private readonly IRowBatchingModel _model;
    private readonly IRowDecoder _decoder;
    private readonly ConcurrentQueue<Sequence> _pending = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private volatile bool _disposed;
    private int _started;
    private int _active;
    private long _steps;
    private long _rowsStepped;
    private int _peakRows;

    /// <summary>
    /// <paramref name="maxBatchSize"/> sequences decode together at most; more wait their turn. With
    /// <paramref name="start"/> false the decode thread waits for <see cref="Start"/> (tests queue work first).
    /// </summary>
    public ContinuousBatcher(IRowBatchingModel model, int maxBatchSize, bool start = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        _model = model;
        _decoder = model.CreateRowDecoder();
        MaxBatchSize = maxBatchSize;
        _thread = new Thread(DecodeLoop) { IsBackground = true, Name = "sharpformer-batcher" };
        if (start)
        {
            Start();
        }
    }

    public int MaxBatchSize { get; }

    /// <summary>Sequences decoding now.</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>Sequences waiting to join.</summary>
    public int Waiting => _pending.Count;

    /// <summary>Batched decode steps run (prefills not counted).</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Rows summed over every step: divided by <see cref="Steps"/>, the mean batch size.</summary>
    public long RowsStepped => Interlocked.Read(ref _rowsStepped);

    /// <summary>The most rows one step has run.</summary>
    public int PeakRows => Volatile.Read(ref _peakRows);

    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _thread.Start();
        }
    }

    /// <summary>
    /// Queues one prompt now (invalid options or a prompt that does not fit throw here) and streams its tokens.
    /// <paramref name="topLogprobs"/>: null = no log-probabilities; N ≥ 0 = each token's log-probability and the N
    /// most likely alternatives. Leaving the enumeration early or cancelling removes the sequence at the next step.
    /// </summary>
    public IAsyncEnumerable<GeneratedToken> StreamAsync(int[] promptIds, GenerationOptions options, int? topLogprobs = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        options.Validate();
        if (options.NumBeams != 1 || options.NumReturnSequences != 1)
        {
            throw new ArgumentException("continuous batching generates one sequence per request: NumBeams and NumReturnSequences must be 1", nameof(options));
        }
        if (promptIds.Length == 0)
        {
            throw new ArgumentException("the prompt needs at least one token", nameof(promptIds));
        }
        if (promptIds.Length + options.MaxNewTokens > _model.MaxPositions)
        {
            throw new ArgumentException(
                $"a prompt of {promptIds.Length} tokens plus {options.MaxNewTokens} new tokens exceeds the model's context of {_model.MaxPositions} positions");
        }
        if (topLogprobs is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(topLogprobs), "top logprobs must be >= 0");
        }
        var sequence = new Sequence(promptIds, DecodingPlan.Create(_model, options), topLogprobs, _decoder.VocabSize);
        _pending.Enqueue(sequence);
        _wake.Release();
        return ReadAsync(sequence, cancellationToken);
    }

    private static async IAsyncEnumerable<GeneratedToken> ReadAsync(Sequence sequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var token in sequence.Tokens.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return token;
            }
        }
        finally
        {
            sequence.Leave(); // finished, abandoned or cancelled: the decode thread drops it before its next step
        }
    }

    private void DecodeLoop()
    {
        var active = new List<Sequence>();
        var caches = new List<KvCache>();
        int[] tokens = [];
        float[] logits = [];
        while (!_disposed)
        {
            // Admit: each newcomer is prefilled alone, takes its first token, and joins the next step.
            while (active.Count < MaxBatchSize && _pending.TryDequeue(out var sequence))
            {
                if (sequence.Left)
                {
                    sequence.Complete(null);
                    continue;
                }
                try
                {
                    sequence.Cache = _decoder.CreateCache(sequence.Capacity);
                    var first = sequence.Logits.AsSpan();
                    _decoder.Prefill(sequence.PromptIds, sequence.Cache, allPositions: false, first);
                    sequence.Advance(first);
                }
                catch (Exception exception)
                {
                    sequence.Complete(exception);
                    continue;
                }
                if (!sequence.Finished)
                {
                    active.Add(sequence);
                }
            }
            active.RemoveAll(sequence =>
            {
                bool leaving = sequence.Finished || sequence.Left;
                if (leaving)
                {
                    sequence.Complete(null);
                }
                return leaving;
            });
            Volatile.Write(ref _active, active.Count);
            if (active.Count == 0)
            {
                _wake.Wait(); // idle until a request arrives (or Dispose)
                continue;
            }

            // One step over every active sequence, each row against its own cache.
            int rows = active.Count, vocab = _decoder.VocabSize;
            if (tokens.Length < rows)
            {
                tokens = new int[MaxBatchSize];
                logits = new float[MaxBatchSize * vocab];
            }
            caches.Clear();
            for (int r = 0; r < rows; r++)
            {
                tokens[r] = active[r].LastToken;
                caches.Add(active[r].Cache!);
            }
            try
            {
                _decoder.Step(tokens.AsSpan(0, rows), caches, logits);
                for (int r = 0; r < rows; r++)
                {
                    active[r].Advance(logits.AsSpan(r * vocab, vocab));
                }
            }
            catch (Exception exception)
            {
                // A failed step leaves every row's cache in doubt: end them all with the error.
                active.ForEach(sequence => sequence.Complete(exception));
                active.Clear();
                continue;
            }
            Interlocked.Increment(ref _steps);
            Interlocked.Add(ref _rowsStepped, rows);
            if (rows > _peakRows)
            {
                Volatile.Write(ref _peakRows, rows);
            }
        }
        active.ForEach(sequence => sequence.Complete(new ObjectDisposedException(nameof(ContinuousBatcher))));
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _wake.Release();
        if (_thread.IsAlive)
        {
            _thread.Join();
        }
        while (_pending.TryDequeue(out var sequence))
        {
            sequence.Complete(new ObjectDisposedException(nameof(ContinuousBatcher)));
        }
        _wake.Dispose();
    }

    /// <summary>One generation's state, touched only by the decode thread (Left aside): the single-row SamplingLoop.</summary>
    private sealed class Sequence
    {
        private readonly DecodingPlan _plan;
        private readonly SequenceBuffer _ids;
        private readonly StreamingText? _text;
        private readonly int? _topLogprobs;
        private readonly float[]? _rawLogits;
        private readonly float[]? _logprobScratch;
        private int _left;

        public Sequence(int[] promptIds, DecodingPlan plan, int? topLogprobs, int vocab)
        {
            PromptIds = promptIds;
            _plan = plan;
            _ids = new SequenceBuffer(promptIds, 1, promptIds.Length, plan.MaxNewTokens);
            _text = plan.Options.Detokenizer is { } detokenizer ? new StreamingText(detokenizer, plan.Options.StopStrings) : null;
            _topLogprobs = topLogprobs;
            _rawLogits = topLogprobs is null ? null : new float[vocab];
            _logprobScratch = topLogprobs is null ? null : new float[vocab];
            Logits = new float[vocab];
        }

        public int[] PromptIds { get; }

        public int Capacity => PromptIds.Length + _plan.MaxNewTokens;

        public KvCache? Cache { get; set; }

        /// <summary>The prefill's logits (steps write theirs into the shared batch buffer).</summary>
        public float[] Logits { get; }

        public Channel<GeneratedToken> Tokens { get; } = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        public int LastToken { get; private set; }

        public bool Finished { get; private set; }

        public bool Left => Volatile.Read(ref _left) != 0;

        public void Leave() => Volatile.Write(ref _left, 1);

        /// <summary>Processors, then argmax or a draw, then the stopping criteria: as SamplingLoop does for one row.</summary>
        public void Advance(Span<float> logits)
        {
            int generated = _ids.GeneratedLength;
            bool sampling = _plan.Rng is not null;
            // Log-probabilities come from the raw logits, so they are read before the processors change them.
            if (_rawLogits is not null)
            {
                logits.CopyTo(_rawLogits);
            }
            _plan.Process(_ids.Row(0), generated, logits, warp: sampling);
            int next = sampling ? Sampler.Sample(logits, _plan.Rng!) : Sampler.ArgMax(logits);
            _ids.Append([next]);
            var finish = _plan.Check(_ids.Row(0), generated + 1);
            var token = new GeneratedToken(next, generated, finish, _text?.Add(next, finish is not null))
            {
                Logprobs = _rawLogits is null ? null : TokenLogprobs.From(_rawLogits, next, _topLogprobs!.Value, _logprobScratch),
            };
            LastToken = next;
            Finished = finish is not null;
            Tokens.Writer.TryWrite(token);
            if (Finished)
            {
                Tokens.Writer.TryComplete(); // the reader ends now; the row leaves before the next step
            }
        }

        public void Complete(Exception? error)
        {
            Tokens.Writer.TryComplete(error);
            Cache = null; // the row's memory goes with it
        }
    }
}
