using System.Buffers;
using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>
/// Decodes a stream of ids one at a time for streaming output. Each <see cref="Add"/> returns only the text that is
/// new and complete: the bytes of a character split across tokens (an emoji is often 2–4 byte-level tokens) wait until
/// the character is whole, so no chunk ends in half a character, a lone surrogate or a spurious U+FFFD.
/// The concatenated chunks plus <see cref="Flush"/> equal <see cref="Tokenizer.Decode(ReadOnlySpan{int}, bool)"/>
/// of all the ids. Not thread-safe: one decoder per stream.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly ArrayBufferWriter<byte> _tokenBytes = new(64);
    // System.Text.Decoder keeps an incomplete UTF-8 sequence between calls and replaces invalid bytes with U+FFFD.
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];
    private bool _isFirstToken = true;

    internal IncrementalDecoder(Tokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Takes the next id; returns the text it completes (often empty mid-character).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    public string Add(int id)
    {
        _tokenBytes.ResetWrittenCount();
        if (_tokenizer.AppendBytes(id, _isFirstToken, _skipSpecialTokens, _tokenBytes))
        {
            _isFirstToken = false;
        }
        return DecodePending(_tokenBytes.WrittenSpan, flush: false);
    }

    /// <summary>Ends the stream: returns what is still held, a U+FFFD for each incomplete sequence, and starts over.</summary>
    public string Flush()
    {
        string rest = DecodePending([], flush: true);
        Reset();
        return rest;
    }

    /// <summary>Drops anything held and starts a new stream.</summary>
    public void Reset()
    {
        _utf8.Reset();
        _isFirstToken = true;
    }

    private string DecodePending(ReadOnlySpan<byte> bytes, bool flush)
    {
        int maxChars = _utf8.GetCharCount(bytes, flush); // counts without changing the decoder's state
        if (_chars.Length < maxChars)
        {
            _chars = new char[Math.Max(maxChars, _chars.Length * 2)];
        }
        int charCount = _utf8.GetChars(bytes, _chars, flush);
        return charCount == 0 ? string.Empty : new string(_chars, 0, charCount);
    }
}
