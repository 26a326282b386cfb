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
public readonly record struct GeneratedToken(int TokenId, int Index, FinishReason? FinishReason, string? TextDelta);
