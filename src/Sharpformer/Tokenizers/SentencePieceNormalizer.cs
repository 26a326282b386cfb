using System.Buffers.Binary;
using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>
/// sentencepiece's normalizer: the precompiled charsmap (a darts-clone double-array trie over UTF-8 prefixes whose
/// values index replacement strings) applied at each position with the longest match, extra whitespace removed, a
/// dummy-prefix space added and spaces written as <c>▁</c>. Works on UTF-8 bytes as sentencepiece does.
/// </summary>
internal sealed class SentencePieceNormalizer
{
    public const char SpaceSymbol = '\u2581';
    private static readonly byte[] s_spaceSymbolBytes = Encoding.UTF8.GetBytes(SpaceSymbol.ToString());
    private static readonly byte[] s_replacementCharacter = [0xEF, 0xBF, 0xBD];

    private readonly uint[] _trieUnits;
    private readonly byte[] _replacements;
    private readonly SentencePieceNormalizerOptions _options;

    /// <exception cref="InvalidDataException">The charsmap is truncated or inconsistent.</exception>
    public SentencePieceNormalizer(SentencePieceNormalizerOptions options)
    {
        _options = options;
        if (options.PrecompiledCharsmap is not { } charsmap)
        {
            (_trieUnits, _replacements) = ([], []);
            return;
        }
        // Layout: uint32 trie size in bytes, the trie's uint32 units, then NUL-terminated replacement strings.
        if (charsmap.Length < 4)
        {
            throw new InvalidDataException("the precompiled charsmap is shorter than its 4-byte header");
        }
        uint trieSize = BinaryPrimitives.ReadUInt32LittleEndian(charsmap);
        if (trieSize % 4 != 0 || trieSize > (uint)(charsmap.Length - 4))
        {
            throw new InvalidDataException($"the precompiled charsmap's trie size {trieSize} does not fit its {charsmap.Length} bytes");
        }
        _trieUnits = new uint[trieSize / 4];
        for (int index = 0; index < _trieUnits.Length; index++)
        {
            _trieUnits[index] = BinaryPrimitives.ReadUInt32LittleEndian(charsmap.AsSpan(4 + index * 4));
        }
        _replacements = charsmap[(4 + (int)trieSize)..];
    }

    public SentencePieceNormalizerOptions Options => _options;

    /// <summary>The normalized text with <c>▁</c> for spaces (when escaping), empty when the text is all whitespace.</summary>
    public string Normalize(ReadOnlySpan<char> text)
    {
        byte[] input = Encoding.UTF8.GetBytes(text.ToArray());
        ReadOnlySpan<byte> rest = input;
        var output = new List<byte>(input.Length + 8);
        bool removeExtra = _options.RemoveExtraWhitespaces;
        if (removeExtra)
        {
            // Leading whitespace (after normalization, so a full-width space counts) is dropped.
            while (!rest.IsEmpty)
            {
                var replacement = NormalizePrefix(rest, out int consumed);
                if (!replacement.SequenceEqual(" "u8))
                {
                    break;
                }
                rest = rest[consumed..];
            }
        }
        if (rest.IsEmpty)
        {
            return string.Empty;
        }
        if (_options.AddDummyPrefix)
        {
            AppendSpace(output);
        }
        bool isPreviousSpace = removeExtra;
        while (!rest.IsEmpty)
        {
            var replacement = NormalizePrefix(rest, out int consumed);
            while (isPreviousSpace && !replacement.IsEmpty && replacement[0] == (byte)' ')
            {
                replacement = replacement[1..];
            }
            if (!replacement.IsEmpty)
            {
                foreach (byte value in replacement)
                {
                    if (value == (byte)' ')
                    {
                        AppendSpace(output);
                    }
                    else
                    {
                        output.Add(value);
                    }
                }
                isPreviousSpace = replacement[^1] == (byte)' ';
            }
            rest = rest[consumed..];
            isPreviousSpace &= removeExtra;
        }
        if (removeExtra)
        {
            ReadOnlySpan<byte> space = _options.EscapeWhitespaces ? s_spaceSymbolBytes : " "u8;
            while (output.Count >= space.Length && CollectionsMarshalEndsWith(output, space))
            {
                output.RemoveRange(output.Count - space.Length, space.Length);
            }
        }
        return Encoding.UTF8.GetString([.. output]);
    }

    private void AppendSpace(List<byte> output)
    {
        if (_options.EscapeWhitespaces)
        {
            output.AddRange(s_spaceSymbolBytes);
        }
        else
        {
            output.Add((byte)' ');
        }
    }

    private static bool CollectionsMarshalEndsWith(List<byte> output, ReadOnlySpan<byte> suffix)
    {
        for (int index = 0; index < suffix.Length; index++)
        {
            if (output[output.Count - suffix.Length + index] != suffix[index])
            {
                return false;
            }
        }
        return true;
    }

    // The replacement for the longest charsmap entry that prefixes the input, else the first character unchanged
    // (a malformed UTF-8 byte becomes U+FFFD); returns how many input bytes it covers.
    private ReadOnlySpan<byte> NormalizePrefix(ReadOnlySpan<byte> input, out int consumed)
    {
        int longestLength = 0, longestValue = 0;
        if (_trieUnits.Length > 0)
        {
            // darts-clone commonPrefixSearch; the last hit is the longest.
            uint nodePosition = 0;
            uint unit = _trieUnits[0];
            nodePosition ^= Offset(unit);
            for (int index = 0; index < input.Length; index++)
            {
                nodePosition ^= input[index];
                if (nodePosition >= (uint)_trieUnits.Length)
                {
                    break;
                }
                unit = _trieUnits[nodePosition];
                if (Label(unit) != input[index])
                {
                    break;
                }
                nodePosition ^= Offset(unit);
                if (HasLeaf(unit))
                {
                    if (nodePosition >= (uint)_trieUnits.Length)
                    {
                        break;
                    }
                    longestLength = index + 1;
                    longestValue = (int)(_trieUnits[nodePosition] & 0x7FFFFFFF);
                }
            }
        }
        if (longestLength > 0 && longestValue < _replacements.Length)
        {
            var replacement = _replacements.AsSpan(longestValue);
            int end = replacement.IndexOf((byte)0);
            consumed = longestLength;
            return end < 0 ? replacement : replacement[..end];
        }
        int length = ValidUtf8Length(input);
        consumed = Math.Max(length, 1);
        return length == 0 ? s_replacementCharacter : input[..length];
    }

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);

    private static uint Label(uint unit) => unit & ((1u << 31) | 0xFF);

    private static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;

    // Length of the valid UTF-8 character at the start, or 0 when it is malformed.
    private static int ValidUtf8Length(ReadOnlySpan<byte> input)
    {
        var status = System.Text.Rune.DecodeFromUtf8(input, out _, out int consumed);
        return status == System.Buffers.OperationStatus.Done ? consumed : 0;
    }
}
