namespace Sharpformer.Generation;

/// <summary>
/// Decides after each token whether one row is finished; null means "keep going". <paramref name="sequence"/> is the
/// row including the token just appended; its last <paramref name="generatedLength"/> ids were generated.
/// </summary>
public interface IStoppingCriterion
{
    FinishReason? Check(ReadOnlySpan<int> sequence, int generatedLength);
}

/// <summary>The row just produced one of the EOS ids.</summary>
public sealed class EosCriterion(int[] eosTokenIds) : IStoppingCriterion
{
    public FinishReason? Check(ReadOnlySpan<int> sequence, int generatedLength) =>
        generatedLength > 0 && eosTokenIds.AsSpan().Contains(sequence[^1]) ? FinishReason.Eos : null;
}

/// <summary>HF MaxLengthCriteria expressed in new tokens.</summary>
public sealed class MaxNewTokensCriterion(int maxNewTokens) : IStoppingCriterion
{
    public FinishReason? Check(ReadOnlySpan<int> sequence, int generatedLength) =>
        generatedLength >= maxNewTokens ? FinishReason.Length : null;
}

/// <summary>The generated text contains a stop string (anywhere: a token may carry text past it).</summary>
public sealed class StopStringCriterion(IReadOnlyList<string> stopStrings, Func<IReadOnlyList<int>, string> detokenizer) : IStoppingCriterion
{
    public FinishReason? Check(ReadOnlySpan<int> sequence, int generatedLength)
    {
        string text = detokenizer(sequence[^generatedLength..].ToArray());
        return FindStop(text, stopStrings) >= 0 ? FinishReason.Stop : null;
    }

    /// <summary>Index of the earliest stop string in <paramref name="text"/>, or -1: the text is cut there.</summary>
    public static int FindStop(string text, IReadOnlyList<string>? stopStrings)
    {
        int earliest = -1;
        foreach (string stop in stopStrings ?? [])
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (earliest < 0 || at < earliest))
            {
                earliest = at;
            }
        }
        return earliest;
    }
}
