using System.Buffers;
using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>
/// Text ↔ token ids for one model family (byte-level BPE for GPT-2/BART; later WordPiece for BERT, Unigram for
/// T5). A subclass supplies two cores, <see cref="EncodeCore"/> and <see cref="AppendTokenBytes"/>; every public
/// overload, decoding with replacement and streaming are built here once. Instances are safe to share across threads.
/// </summary>
public abstract class Tokenizer
{
    private HashSet<int>? _specialIds;

    /// <summary>Number of ids: one more than the largest id of the vocabulary and the added tokens.</summary>
    public abstract int VocabSize { get; }

    /// <summary>Special tokens (end of text, padding, mask, ...) by content; <c>skipSpecialTokens</c> drops these ids.</summary>
    public abstract IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>Loads the tokenizer in a model folder: tokenizer.json if present, else the family's legacy files.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no tokenizer files, or lacks one of a pair.</exception>
    /// <exception cref="TokenizerException">A file is corrupt or describes a tokenizer this library lacks.</exception>
    public static Tokenizer FromFolder(string directory) => TokenizerFiles.Load(directory);

    /// <summary>
    /// The ids of <paramref name="text"/>, special tokens written in it included; nothing is added around it except
    /// where the family always ends a sequence with a token (T5's <c>&lt;/s&gt;</c>, see
    /// <see cref="UnigramTokenizer.EndOfSequenceId"/>).
    /// </summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Encode(text.AsSpan());
    }

    /// <inheritdoc cref="Encode(string)"/>
    public IReadOnlyList<int> Encode(ReadOnlySpan<char> text)
    {
        var ids = new List<int>(text.Length / 3 + 1);
        EncodeCore(text, ids);
        return ids;
    }

    /// <summary>
    /// The text of <paramref name="ids"/>; bytes that are not valid UTF-8 become U+FFFD (HF's errors="replace").
    /// No clean-up of spaces before punctuation, so decoding an encoding gives back the exact text.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public virtual string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new ArrayBufferWriter<byte>(ids.Length * 4 + 16);
        bool isFirstToken = true;
        foreach (int id in ids)
        {
            if (AppendBytes(id, isFirstToken, skipSpecialTokens, bytes))
            {
                isFirstToken = false;
            }
        }
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <inheritdoc cref="Decode(ReadOnlySpan{int}, bool)"/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Decode(ids.ToArray(), skipSpecialTokens);
    }

    /// <summary>A streaming decoder: feed ids one at a time, get back only new, complete text.</summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    /// <summary>The token string of an id (the vocabulary's form, e.g. "Ġworld"), or null for an unknown id.</summary>
    public abstract string? IdToToken(int id);

    /// <summary>The id of a token string in the vocabulary's form, or null when there is none.</summary>
    public abstract int? TokenToId(string token);

    /// <summary>Whether <paramref name="id"/> is one of <see cref="SpecialTokens"/>.</summary>
    public bool IsSpecialToken(int id)
    {
        _specialIds ??= [.. SpecialTokens.Values];
        return _specialIds.Contains(id);
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    protected abstract void EncodeCore(ReadOnlySpan<char> text, List<int> ids);

    /// <summary>
    /// Writes the UTF-8 bytes that <paramref name="id"/> stands for. <paramref name="isFirstToken"/> lets families
    /// that mark word starts with a space (WordPiece, SentencePiece) drop it at the start of the text.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    protected internal abstract void AppendTokenBytes(int id, bool isFirstToken, IBufferWriter<byte> destination);

    /// <summary>Appends one id's bytes unless it is skipped; returns whether it was written.</summary>
    internal bool AppendBytes(int id, bool isFirstToken, bool skipSpecialTokens, IBufferWriter<byte> destination)
    {
        if (skipSpecialTokens && IsSpecialToken(id))
        {
            return false;
        }
        AppendTokenBytes(id, isFirstToken, destination);
        return true;
    }
}
