using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Sharpformer.Models;

namespace Sharpformer.Generation;

/// <summary>Text generation over any <see cref="ILanguageModel"/>, matching Hugging Face <c>generate()</c>.</summary>
public static class Generator
{
    private delegate GenerationResult DecodingLoop(IGenerationSession session, DecodingPlan plan, CancellationToken cancellationToken);

    /// <summary>Which loop runs, by (beam search?, sampling?), as HF's generation-mode table.</summary>
    private static readonly Dictionary<(bool Beams, bool Sampling), DecodingLoop> Loops = new()
    {
        [(false, false)] = (session, plan, token) => SamplingLoop.Run(session, plan, null, token), // greedy
        [(false, true)] = (session, plan, token) => SamplingLoop.Run(session, plan, null, token),  // multinomial sampling
        [(true, false)] = BeamSearch.Run,
    };

    /// <summary>
    /// Generates for a left-padded batch (<see cref="PromptBatch.LeftPadded"/>). Beam search expands each prompt
    /// NumBeams times; sampling with NumReturnSequences &gt; 1 expands it that many times.
    /// </summary>
    public static GenerationResult Generate(ILanguageModel model, PromptBatch prompts, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var plan = DecodingPlan.Create(model, options);
        int copies = options.NumBeams > 1 ? options.NumBeams : options.NumReturnSequences;
        using var session = model.StartSession(copies > 1 ? prompts.Repeat(copies) : prompts, options.MaxNewTokens);
        return Loops[(options.NumBeams > 1, options.IsSampling)](session, plan, cancellationToken);
    }

    /// <summary>Generates for one unpadded prompt.</summary>
    public static GenerationResult Generate(ILanguageModel model, int[] promptIds, GenerationOptions options, CancellationToken cancellationToken = default) =>
        Generate(model, PromptBatch.Single(promptIds), options, cancellationToken);

    /// <summary>
    /// Streams the tokens of one prompt (greedy or sampling) as they are produced. Decoding runs on its own thread,
    /// so the thread pool is never blocked by model steps; items wait in a small bounded queue for the reader.
    /// Invalid options or a prompt that does not fit throw here, before enumeration. The session opened here is
    /// disposed when decoding ends, so enumerate the result (leaving early or cancelling stops decoding).
    /// </summary>
    public static IAsyncEnumerable<GeneratedToken> GenerateStreamAsync(ILanguageModel model, int[] promptIds, GenerationOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.NumBeams != 1 || options.NumReturnSequences != 1)
        {
            throw new ArgumentException("streaming generates one sequence: NumBeams and NumReturnSequences must be 1", nameof(options));
        }
        var plan = DecodingPlan.Create(model, options);
        var session = model.StartSession(PromptBatch.Single(promptIds), options.MaxNewTokens);
        return StreamAsync(session, plan, cancellationToken);
    }

    private static async IAsyncEnumerable<GeneratedToken> StreamAsync(IGenerationSession session, DecodingPlan plan,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<GeneratedToken>(new BoundedChannelOptions(32) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var text = plan.Options.Detokenizer is { } detokenizer ? new StreamingText(detokenizer, plan.Options.StopStrings) : null;
        var producer = Task.Factory.StartNew(() =>
        {
            try
            {
                using (session)
                {
                    SamplingLoop.Run(session, plan, token =>
                    {
                        var item = token with { TextDelta = text?.Add(token.TokenId, token.FinishReason is not null) };
                        while (!channel.Writer.TryWrite(item))
                        {
                            // Only this dedicated thread waits here, when the reader falls behind.
                            channel.Writer.WaitToWriteAsync(stop.Token).AsTask().GetAwaiter().GetResult();
                        }
                    }, stop.Token);
                }
                channel.Writer.Complete();
            }
            catch (Exception exception)
            {
                channel.Writer.Complete(exception);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        try
        {
            await foreach (var token in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return token;
            }
        }
        finally
        {
            stop.Cancel(); // the reader left early or was cancelled: stop decoding too
            await producer.ConfigureAwait(false);
        }
    }
}
