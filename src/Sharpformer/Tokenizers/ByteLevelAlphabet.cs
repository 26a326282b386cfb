namespace Sharpformer.Tokenizers;

/// <summary>
/// GPT-2's bytes_to_unicode: every byte gets a printable character so BPE works on text. Printable Latin-1 bytes
/// keep their own character; the other 68 bytes (space, control characters, ...) take U+0100 onwards in byte
/// order, which is why a space shows up as 'Ġ' (U+0120) and a newline as 'Ċ'.
/// </summary>
internal static class ByteLevelAlphabet
{
    public static readonly char[] ByteToChar = BuildByteToChar();

    private static readonly Dictionary<char, byte> s_charToByte =
        Enumerable.Range(0, 256).ToDictionary(value => ByteToChar[value], value => (byte)value);

    /// <summary>The byte-level string of some UTF-8 bytes (one character per byte).</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        Span<char> characters = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            characters[i] = ByteToChar[bytes[i]];
        }
        return new string(characters);
    }

    /// <summary>
    /// The bytes a token stands for. A token with a character outside the alphabet (an added token such as
    /// "&lt;mask&gt; " with a real space) is taken as its own UTF-8 text, as HF's ByteLevel decoder does.
    /// </summary>
    public static byte[] ToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!s_charToByte.TryGetValue(token[i], out bytes[i]))
            {
                return System.Text.Encoding.UTF8.GetBytes(token);
            }
        }
        return bytes;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int nextShifted = 256;
        for (int value = 0; value < 256; value++)
        {
            bool printable = value is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[value] = printable ? (char)value : (char)nextShifted++;
        }
        return map;
    }
}
