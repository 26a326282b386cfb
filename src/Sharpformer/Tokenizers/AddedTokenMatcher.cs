namespace Sharpformer.Tokenizers;

/// <summary>Finds added tokens in raw text, leftmost first and longest at a position, as HF's added vocabulary does.</summary>
internal sealed class AddedTokenMatcher
{
    // Candidates by first character, longest first, so the first hit at a position is the longest.
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .Where(token => token.Content.Length > 0)
            .GroupBy(token => token.Content[0])
            .ToDictionary(group => group.Key, group => group.OrderByDescending(token => token.Content.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>
    /// The next added token in <paramref name="text"/>: where its match starts and how long it is (stripped
    /// whitespace included), or false when there is none.
    /// </summary>
    public bool TryFindNext(ReadOnlySpan<char> text, out int matchStart, out int matchLength, out AddedToken token)
    {
        for (int position = 0; position < text.Length; position++)
        {
            if (!_byFirstChar.TryGetValue(text[position], out var candidates))
            {
                continue;
            }
            foreach (var candidate in candidates)
            {
                int end = position + candidate.Content.Length;
                if (!text[position..].StartsWith(candidate.Content, StringComparison.Ordinal)
                    || (candidate.SingleWord && !IsWordBoundary(text, position, end)))
                {
                    continue;
                }
                int start = position;
                if (candidate.LeftStrip)
                {
                    while (start > 0 && char.IsWhiteSpace(text[start - 1]))
                    {
                        start--;
                    }
                }
                if (candidate.RightStrip)
                {
                    while (end < text.Length && char.IsWhiteSpace(text[end]))
                    {
                        end++;
                    }
                }
                (matchStart, matchLength, token) = (start, end - start, candidate);
                return true;
            }
        }
        (matchStart, matchLength, token) = (0, 0, null!);
        return false;
    }

    private static bool IsWordBoundary(ReadOnlySpan<char> text, int start, int end) =>
        (start == 0 || !IsWordChar(text[start - 1])) && (end == text.Length || !IsWordChar(text[end]));

    private static bool IsWordChar(char character) => char.IsLetterOrDigit(character) || character == '_';
}
