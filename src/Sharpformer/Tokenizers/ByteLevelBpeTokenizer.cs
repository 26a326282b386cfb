using System.Buffers;

namespace Sharpformer.Tokenizers;

/// <summary>
/// GPT-2's byte-level BPE (also RoBERTa and BART): added tokens are split out of the raw text first, the rest is cut
/// into words by GPT-2's pattern, each word's UTF-8 bytes become byte tokens that merges combine. Ids match Hugging
/// Face's exactly. Load with <see cref="FromFolder"/>, or build in memory with <see cref="Create"/>.
/// </summary>
public sealed class ByteLevelBpeTokenizer : Tokenizer
{
    private readonly BpeModel _model;
    private readonly AddedTokenMatcher _addedTokens;
    private readonly Dictionary<string, int> _addedTokenIds;
    private readonly Dictionary<string, int> _specialTokens;
    private readonly string?[] _tokens;
    private readonly byte[]?[] _tokenBytes;

    internal ByteLevelBpeTokenizer(BpeModel model, IReadOnlyList<AddedToken> addedTokens, bool addPrefixSpace, bool splitWords)
    {
        _model = model;
        AddPrefixSpace = addPrefixSpace;
        SplitWords = splitWords;
        _addedTokens = new AddedTokenMatcher(addedTokens);
        _addedTokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        _specialTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in addedTokens)
        {
            _addedTokenIds[token.Content] = token.Id;
            if (token.Special)
            {
                _specialTokens[token.Content] = token.Id;
            }
        }

        int maxId = Math.Max(model.Vocabulary.Values.DefaultIfEmpty(-1).Max(), addedTokens.Select(token => token.Id).DefaultIfEmpty(-1).Max());
        _tokens = new string?[maxId + 1];
        foreach (var (token, id) in model.Vocabulary)
        {
            if (id < 0)
            {
                throw new TokenizerException($"token \"{token}\" has a negative id {id}");
            }
            _tokens[id] = token;
        }
        // An added token's content is its text, also where it shadows a vocabulary entry with the same id.
        foreach (var token in addedTokens)
        {
            if (token.Id < 0)
            {
                throw new TokenizerException($"added token \"{token.Content}\" has a negative id {token.Id}");
            }
            _tokens[token.Id] = token.Content;
        }
        _tokenBytes = Array.ConvertAll(_tokens, token => token is null ? null : ByteLevelAlphabet.ToBytes(token));
    }

    /// <summary>Whether each piece of text between added tokens gets a leading space (RoBERTa/BART option).</summary>
    public bool AddPrefixSpace { get; }

    /// <summary>Whether GPT-2's pattern cuts text into words first (ByteLevel "use_regex"); otherwise a piece is one word.</summary>
    public bool SplitWords { get; }

    public override int VocabSize => _tokens.Length;

    public override IReadOnlyDictionary<string, int> SpecialTokens => _specialTokens;

    /// <summary>The vocabulary (byte-level token string → id), without added tokens.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary => _model.Vocabulary;

    /// <inheritdoc cref="Tokenizer.FromFolder"/>
    public static new ByteLevelBpeTokenizer FromFolder(string directory) =>
        TokenizerFiles.Load(directory) as ByteLevelBpeTokenizer
        ?? throw new TokenizerException($"{directory}: the tokenizer there is not byte-level BPE");

    /// <summary>
    /// Builds a tokenizer from a vocabulary (byte-level token → id) and merges in rank order. Every merge's parts and
    /// result must be in the vocabulary.
    /// </summary>
    public static ByteLevelBpeTokenizer Create(IReadOnlyDictionary<string, int> vocabulary,
        IEnumerable<(string Left, string Right)> merges, IEnumerable<AddedToken>? addedTokens = null, bool addPrefixSpace = false)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(merges);
        var model = new BpeModel(new Dictionary<string, int>(vocabulary, StringComparer.Ordinal), merges.ToList(),
            ignoreMerges: false, rank => $"merge {rank}");
        return new ByteLevelBpeTokenizer(model, addedTokens?.ToList() ?? [], addPrefixSpace, splitWords: true);
    }

    public override string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedTokenIds.TryGetValue(token, out int addedId))
        {
            return addedId;
        }
        return _model.Vocabulary.TryGetValue(token, out int id) ? id : null;
    }

    protected override void EncodeCore(ReadOnlySpan<char> text, List<int> ids)
    {
        while (!_addedTokens.IsEmpty && _addedTokens.TryFindNext(text, out int matchStart, out int matchLength, out var token))
        {
            EncodePiece(text[..matchStart], ids);
            ids.Add(token.Id);
            text = text[(matchStart + matchLength)..];
        }
        EncodePiece(text, ids);
    }

    protected internal override void AppendTokenBytes(int id, bool isFirstToken, IBufferWriter<byte> destination)
    {
        var bytes = (uint)id < (uint)_tokenBytes.Length ? _tokenBytes[id] : null;
        if (bytes is null)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is not in the vocabulary (size {VocabSize})");
        }
        destination.Write(bytes);
    }

    // A piece of text between added tokens, as HF's fast tokenizer pre-tokenizes each piece on its own.
    private void EncodePiece(ReadOnlySpan<char> text, List<int> ids)
    {
        if (text.IsEmpty)
        {
            return;
        }
        if (AddPrefixSpace && text[0] != ' ')
        {
            text = string.Concat(" ", text);
        }
        if (!SplitWords)
        {
            _model.EncodeWord(text, ids);
            return;
        }
        while (!text.IsEmpty)
        {
            int wordLength = Gpt2PreTokenizer.NextWordLength(text);
            _model.EncodeWord(text[..wordLength], ids);
            text = text[wordLength..];
        }
    }
}
