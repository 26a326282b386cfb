using System.Text.RegularExpressions;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

public partial class Gpt2PreTokenizerTests
{
    // GPT-2's pattern as HF writes it. .NET Regex agrees with Python's regex module on BMP text, so it checks the
    // hand-written splitter there; outside the BMP only the splitter works on code points as Python does.
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    private static partial Regex Gpt2Pattern();

    [Theory]
    [InlineData("Hello world")]
    [InlineData("multiple   spaces    here     and a trailing space ")]
    [InlineData("  leading\t\ttabs \t mixed\r\n\r\nlines\n")]
    [InlineData("I'm sure you've heard they'll say it's what we'd done, isn't it? 'S 'RE ''s '")]
    [InlineData("3.14159 $1,234.56 ½ Ⅻ ٣ x²")]
    [InlineData("Ünïcödé café naïve Ελληνικά 日本語 한국어\u00a0nbsp\u2003em\u3000ideographic")]
    [InlineData("def f(a, b):\n    return a + b  # ok\n\n")]
    [InlineData("!!! ??? ... --- ***")]
    [InlineData("a\u001cb \u001c c\u0085d\u000be")]
    [InlineData(" ")]
    [InlineData("\n")]
    [InlineData("a")]
    public void SplitsBmpTextLikeThePattern(string text) => Assert.Equal(RegexWords(text), Words(text));

    [Fact]
    public void SplitsAtCodePointsOutsideTheBmp()
    {
        // Expected words are Python regex's findall. 𠀀 (U+20000) is a letter: one word with its neighbours. An emoji is a symbol, so it splits.
        Assert.Equal([" a\U00020000b"], Words(" a\U00020000b"));
        Assert.Equal(["a", "😀", "b"], Words("a😀b"));
        Assert.Equal(["x", " 𝟙𝟚"], Words("x 𝟙𝟚"));
        Assert.Equal(["𝐇𝐞𝐥𝐥𝐨s", " world"], Words("𝐇𝐞𝐥𝐥𝐨s world"));
        // Python's \s is White_Space, which leaves out the information separators U+001C..U+001F.
        Assert.Equal(["a", "\u001c", "b", " \u001c", " c"], Words("a\u001cb \u001c c"));
    }

    private static List<string> Words(string text)
    {
        var words = new List<string>();
        for (var rest = text.AsSpan(); !rest.IsEmpty;)
        {
            int length = Gpt2PreTokenizer.NextWordLength(rest);
            words.Add(rest[..length].ToString());
            rest = rest[length..];
        }
        return words;
    }

    private static List<string> RegexWords(string text) => [.. Gpt2Pattern().Matches(text).Select(match => match.Value)];
}
