using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>
/// Splits text into the words GPT-2's pattern finds:
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.
/// Written out by hand over code points rather than with .NET Regex, which sees a character outside the BMP as
/// two surrogates (never \p{L}) and so would split rare letters, such as CJK Extension B, differently from HF.
/// </summary>
internal static class Gpt2PreTokenizer
{
    private enum CharClass
    {
        Letter,
        Number,
        Whitespace,
        Other,
    }

    /// <summary>Length in chars of the word at the start of <paramref name="text"/> (non-empty).</summary>
    public static int NextWordLength(ReadOnlySpan<char> text)
    {
        if (text[0] == '\'')
        {
            int contractionLength = ContractionLength(text);
            if (contractionLength > 0)
            {
                return contractionLength;
            }
        }

        var first = Classify(text, out int firstLength);
        // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": one plain space may lead a run of letters, numbers or others.
        if (text[0] == ' ' && text.Length > 1)
        {
            var next = Classify(text[1..], out _);
            if (next != CharClass.Whitespace)
            {
                return 1 + RunLength(text[1..], next);
            }
        }
        if (first != CharClass.Whitespace)
        {
            return RunLength(text, first);
        }

        // "\s+(?!\S)" leaves the last whitespace before a word to lead that word; "\s+" takes a lone one.
        int whitespaceLength = RunLength(text, CharClass.Whitespace);
        bool followedByWord = whitespaceLength < text.Length;
        return followedByWord && whitespaceLength > firstLength ? whitespaceLength - 1 : whitespaceLength;
    }

    // 's 't 're 've 'm 'll 'd, lower case only.
    private static int ContractionLength(ReadOnlySpan<char> text)
    {
        if (text.Length < 2)
        {
            return 0;
        }
        if (text[1] is 's' or 't' or 'm' or 'd')
        {
            return 2;
        }
        if (text.Length >= 3 && (text[1..3] is "re" or "ve" or "ll"))
        {
            return 3;
        }
        return 0;
    }

    private static int RunLength(ReadOnlySpan<char> text, CharClass runClass)
    {
        int length = 0;
        while (length < text.Length && Classify(text[length..], out int charLength) == runClass)
        {
            length += charLength;
        }
        return length;
    }

    private static CharClass Classify(ReadOnlySpan<char> text, out int charLength)
    {
        // A lone surrogate decodes as U+FFFD, a symbol, so it falls in "Other" like any punctuation.
        Rune.DecodeFromUtf16(text, out var rune, out charLength);
        if (Rune.IsLetter(rune))
        {
            return CharClass.Letter;
        }
        if (Rune.IsNumber(rune))
        {
            return CharClass.Number;
        }
        return Rune.IsWhiteSpace(rune) ? CharClass.Whitespace : CharClass.Other;
    }
}
