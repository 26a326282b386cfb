namespace Sharpformer.Generation;

/// <summary>Why a row stopped, as OpenAI's finish_reason: an EOS token, the token budget, or a stop string.</summary>
public enum FinishReason
{
    Eos,
    Length,
    Stop,
}

/// <summary>
/// One returned row. <see cref="GeneratedIds"/>: the new tokens (EOS included when reached, no padding).
/// <see cref="Sequence"/>: the row exactly as HF's <c>sequences</c> holds it: initial ids (left-padded prompt, or the
/// decoder start token) + generated ids, right-padded with the pad id to the batch's common width.
/// </summary>
public sealed record GeneratedSequence(int[] GeneratedIds, int[] Sequence, FinishReason FinishReason, float? SequenceScore, string? Text);

/// <summary>
/// What <see cref="Generator.Generate(Models.ILanguageModel, Models.PromptBatch, GenerationOptions, CancellationToken)"/> returns.
/// Rows are ordered as HF orders them: prompt 0's sequences first (best beam first), then prompt 1's, and so on.
/// </summary>
public sealed class GenerationResult
{
    public GenerationResult(IReadOnlyList<GeneratedSequence> sequences, int initialLength, IReadOnlyList<float[]>? scores)
    {
        Sequences = sequences;
        InitialLength = initialLength;
        Scores = scores;
    }

    public IReadOnlyList<GeneratedSequence> Sequences { get; }

    /// <summary>Column where generated tokens start in each <see cref="GeneratedSequence.Sequence"/>.</summary>
    public int InitialLength { get; }

    /// <summary>
    /// With <see cref="GenerationOptions.OutputScores"/> (greedy/sampling): per step, the processed next-token logits of
    /// every row, [rows × vocab], as HF <c>output_scores</c> (finished rows included).
    /// </summary>
    public IReadOnlyList<float[]>? Scores { get; }
}

/// <summary>
/// One streamed token. <see cref="TextDelta"/> is set only when the options carry a detokenizer: the text that became
/// final with this token (held back while it may be an incomplete character or the start of a stop string).
/// <see cref="FinishReason"/> is set on the last token.
/// </summary>
public readonly record struct GeneratedToken(int TokenId, int Index, FinishReason? FinishReason, string? TextDelta)
{
    /// <summary>Set when the caller asked for log-probabilities (<see cref="ContinuousBatcher"/>).</summary>
    public TokenLogprobs? Logprobs { get; init; }
}

/// <summary>
/// The model's log-probability of a chosen token and of the most likely tokens at that position, from the raw
/// logits (before temperature, top-p and the other processors, as vLLM reports them), best first.
/// </summary>
public sealed record TokenLogprobs(float Logprob, int[] TopIds, float[] TopLogprobs)
{
    /// <summary>log_softmax of <paramref name="logits"/> at <paramref name="tokenId"/>, and its <paramref name="top"/> best entries.</summary>
    public static TokenLogprobs From(ReadOnlySpan<float> logits, int tokenId, int top, Span<float> scratch)
    {
        var logprobs = scratch[..logits.Length];
        logits.CopyTo(logprobs);
        Sampler.LogSoftmax(logprobs);
        var best = new TopCandidates(Math.Max(1, Math.Min(top, logits.Length)));
        best.SelectFrom(logprobs);
        int count = Math.Min(top, best.Count);
        var ids = new int[count];
        var values = new float[count];
        for (int rank = 0; rank < count; rank++)
        {
            ids[rank] = best.Index(rank);
            values[rank] = best.Score(rank);
        }
        return new TokenLogprobs(logprobs[tokenId], ids, values);
    }
}
