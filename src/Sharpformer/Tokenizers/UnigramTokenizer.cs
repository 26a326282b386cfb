using System.Buffers;
using System.Globalization;
using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>
/// SentencePiece's Unigram model (T5, and other spiece.model users): special and added tokens are split out of the
/// raw text, each piece between them is normalized (precompiled charsmap, extra whitespace removed, <c>▁</c> for
/// spaces with a dummy prefix) and cut by Viterbi into the pieces whose scores sum highest. A run of characters no
/// piece covers becomes one <c>&lt;unk&gt;</c>, or its UTF-8 bytes <c>&lt;0xNN&gt;</c> with byte fallback.
/// Ids, pieces and decoded text match Hugging Face's slow T5Tokenizer (legacy=True) over the sentencepiece library.
/// Streaming (<see cref="Tokenizer.CreateIncrementalDecoder"/>) concatenates piece text and equals
/// <see cref="Decode(ReadOnlySpan{int}, bool)"/> except for HF's extra spaces around special tokens mid-text.
/// </summary>
public sealed class UnigramTokenizer : Tokenizer
{
    /// <summary>Number of T5 sentinel tokens <c>&lt;extra_id_0&gt;</c>… appended after the vocabulary.</summary>
    public const int T5ExtraIds = 100;

    private readonly SentencePiece[] _pieces;
    private readonly Dictionary<string, int> _pieceIds;
    private readonly SentencePieceNormalizer _normalizer;
    private readonly PieceTrie _trie;
    private readonly float _unknownScore;
    private readonly float _maximumScore;
    private readonly int _unknownId;
    private readonly int[] _byteIds;
    private readonly AddedTokenMatcher _addedTokens;
    private readonly Dictionary<string, int> _addedTokenIds;
    private readonly Dictionary<int, string> _addedTokenContents;
    private readonly Dictionary<string, int> _specialTokens;
    private readonly byte[][] _tokenBytes;
    private readonly int _vocabSize;

    internal UnigramTokenizer(IReadOnlyList<SentencePiece> pieces, SentencePieceNormalizerOptions normalizer, bool byteFallback,
        IReadOnlyList<AddedToken> addedTokens, int? endOfSequenceId, string source)
    {
        _pieces = [.. pieces];
        _normalizer = new SentencePieceNormalizer(normalizer);
        _pieceIds = new Dictionary<string, int>(StringComparer.Ordinal);
        _trie = new PieceTrie();
        float minimumScore = float.MaxValue, maximumScore = float.MinValue;
        _unknownId = -1;
        _byteIds = new int[256];
        Array.Fill(_byteIds, -1);
        for (int id = 0; id < _pieces.Length; id++)
        {
            var piece = _pieces[id];
            _pieceIds.TryAdd(piece.Piece, id);
            switch (piece.Type)
            {
                case SentencePieceType.Normal:
                    minimumScore = Math.Min(minimumScore, piece.Score);
                    maximumScore = Math.Max(maximumScore, piece.Score);
                    _trie.Add(piece.Piece, id);
                    break;
                case SentencePieceType.UserDefined:
                    _trie.Add(piece.Piece, id);
                    break;
                case SentencePieceType.Unknown when _unknownId < 0:
                    _unknownId = id;
                    break;
                case SentencePieceType.Byte when TryParseBytePiece(piece.Piece, out byte value):
                    _byteIds[value] = id;
                    break;
            }
        }
        if (_unknownId < 0)
        {
            throw new TokenizerException($"{source}: the vocabulary has no unknown piece (type UNKNOWN)");
        }
        ByteFallback = byteFallback;
        if (byteFallback && Array.IndexOf(_byteIds, -1) >= 0)
        {
            throw new TokenizerException($"{source}: byte fallback is on but the byte pieces <0x00>…<0xFF> are not all there");
        }
        // sentencepiece's unknown penalty: an <unk> costs 10 more than the rarest piece.
        _unknownScore = (minimumScore == float.MaxValue ? 0 : minimumScore) - 10f;
        _maximumScore = maximumScore == float.MinValue ? 0 : maximumScore;

        _addedTokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        _addedTokenContents = [];
        _specialTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in addedTokens)
        {
            if (token.Id < 0)
            {
                throw new TokenizerException($"{source}: added token \"{token.Content}\" has a negative id {token.Id}");
            }
            _addedTokenIds[token.Content] = token.Id;
            _addedTokenContents[token.Id] = token.Content;
            if (token.Special)
            {
                _specialTokens[token.Content] = token.Id;
            }
        }
        _addedTokens = new AddedTokenMatcher(addedTokens);
        _vocabSize = Math.Max(_pieces.Length, addedTokens.Select(token => token.Id + 1).DefaultIfEmpty(0).Max());
        EndOfSequenceId = endOfSequenceId;
        if (endOfSequenceId is { } eos && (eos < 0 || eos >= _vocabSize))
        {
            throw new TokenizerException($"{source}: the end-of-sequence id {eos} is not in the vocabulary");
        }

        _tokenBytes = new byte[_vocabSize][];
        for (int id = 0; id < _vocabSize; id++)
        {
            _tokenBytes[id] = TokenBytes(id);
        }
    }

    /// <summary>Whether characters no piece covers become their UTF-8 bytes <c>&lt;0xNN&gt;</c> instead of <c>&lt;unk&gt;</c>.</summary>
    public bool ByteFallback { get; }

    /// <summary>The id <see cref="Tokenizer.Encode(string)"/> appends after the text (T5's <c>&lt;/s&gt;</c>), or null for none.</summary>
    public int? EndOfSequenceId { get; }

    /// <summary>The SentencePiece vocabulary, by id, without the added tokens after it.</summary>
    public IReadOnlyList<SentencePiece> Pieces => _pieces;

    /// <summary>The normalization settings in use.</summary>
    public SentencePieceNormalizerOptions NormalizerOptions => _normalizer.Options;

    public override int VocabSize => _vocabSize;

    public override IReadOnlyDictionary<string, int> SpecialTokens => _specialTokens;

    /// <inheritdoc cref="Tokenizer.FromFolder"/>
    public static new UnigramTokenizer FromFolder(string directory) =>
        TokenizerFiles.Load(directory) as UnigramTokenizer
        ?? throw new TokenizerException($"{directory}: the tokenizer there is not SentencePiece Unigram");

    /// <summary>
    /// Loads a SentencePiece model file as T5's tokenizer does: <paramref name="extraIds"/> sentinels
    /// <c>&lt;extra_id_N&gt;</c> = vocabulary size + extraIds − 1 − N, and <c>&lt;/s&gt;</c> appended by
    /// <see cref="Tokenizer.Encode(string)"/> when <paramref name="appendEndOfSequence"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TokenizerException">The file is not a SentencePiece Unigram model; the message names it.</exception>
    public static UnigramTokenizer FromSentencePieceModel(string path, int extraIds = T5ExtraIds, bool appendEndOfSequence = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegative(extraIds);
        var model = SentencePieceModel.Load(path);
        if (model.ModelType != "unigram")
        {
            throw new TokenizerException($"{path}: SentencePiece model type \"{model.ModelType}\" is not supported (only \"unigram\")");
        }
        var pieces = model.Pieces;
        // As HF's slow tokenizers: the unknown and control pieces (T5: <pad>, </s>, <unk>) are special and split out of text.
        var addedTokens = new List<AddedToken>();
        for (int id = 0; id < pieces.Count; id++)
        {
            if (pieces[id].Type is SentencePieceType.Control or SentencePieceType.Unknown)
            {
                addedTokens.Add(new AddedToken(pieces[id].Piece, id));
            }
        }
        for (int index = 0; index < extraIds; index++)
        {
            addedTokens.Add(new AddedToken($"<extra_id_{index}>", pieces.Count + extraIds - 1 - index, LeftStrip: true, RightStrip: true));
        }
        int? endOfSequenceId = null;
        if (appendEndOfSequence)
        {
            int eos = Enumerable.Range(0, pieces.Count).FirstOrDefault(id => pieces[id].Piece == "</s>", -1);
            endOfSequenceId = eos >= 0 ? eos
                : throw new TokenizerException($"{path}: there is no </s> piece to append (pass appendEndOfSequence: false)");
        }
        try
        {
            return new UnigramTokenizer(pieces, model.Normalizer, model.ByteFallback, addedTokens, endOfSequenceId, path);
        }
        catch (InvalidDataException exception)
        {
            throw new TokenizerException($"{path}: {exception.Message}", exception);
        }
    }

    /// <summary>Builds a tokenizer in memory from pieces by id (one must be of type Unknown).</summary>
    public static UnigramTokenizer Create(IReadOnlyList<SentencePiece> pieces, SentencePieceNormalizerOptions? normalizer = null,
        bool byteFallback = false, IEnumerable<AddedToken>? addedTokens = null, int? endOfSequenceId = null)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        try
        {
            return new UnigramTokenizer(pieces, normalizer ?? new SentencePieceNormalizerOptions(), byteFallback,
                addedTokens?.ToList() ?? [], endOfSequenceId, "vocabulary");
        }
        catch (InvalidDataException exception)
        {
            throw new TokenizerException($"vocabulary: {exception.Message}", exception);
        }
    }

    /// <summary>
    /// The pieces of <paramref name="text"/> as HF's <c>tokenize</c> gives them: added tokens as written, the rest as
    /// sentencepiece's surface pieces (a run of unknown characters is one piece); no end-of-sequence token.
    /// </summary>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<string>();
        Segment(text, (piece, _) => pieces.Add(piece));
        return pieces;
    }

    public override string? IdToToken(int id) =>
        _addedTokenContents.TryGetValue(id, out string? content) ? content
        : (uint)id < (uint)_pieces.Length ? _pieces[id].Piece : null;

    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedTokenIds.TryGetValue(token, out int addedId))
        {
            return addedId;
        }
        return _pieceIds.TryGetValue(token, out int id) ? id : null;
    }

    /// <summary>
    /// As HF's slow T5Tokenizer decodes: sentinels (added tokens after the vocabulary) are joined to the text around
    /// them with single spaces; a special token inside the vocabulary (<c>&lt;/s&gt;</c>, <c>&lt;pad&gt;</c>,
    /// <c>&lt;unk&gt;</c>) gets a space before it unless a special token precedes it; each stretch of pieces loses its
    /// leading space; the result is trimmed. Byte pieces are reassembled as UTF-8 with U+FFFD for invalid bytes.
    /// </summary>
    public override string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var parts = new List<string>();
        var run = new List<int>();
        foreach (int id in ids)
        {
            ThrowIfOutOfRange(id);
            if (skipSpecialTokens && IsSpecialToken(id))
            {
                continue;
            }
            if (id >= _pieces.Length)
            {
                if (run.Count > 0)
                {
                    string text = DecodeRun(run);
                    if (text.Length > 0)
                    {
                        parts.Add(text);
                    }
                    run.Clear();
                }
                parts.Add(_addedTokenContents.TryGetValue(id, out string? content) ? content : "");
            }
            else
            {
                run.Add(id);
            }
        }
        if (run.Count > 0)
        {
            parts.Add(DecodeRun(run));
        }
        return string.Join(' ', parts);
    }

    protected override void EncodeCore(ReadOnlySpan<char> text, List<int> ids)
    {
        Segment(text, (_, id) => ids.Add(id));
        if (EndOfSequenceId is { } eos)
        {
            ids.Add(eos);
        }
    }

    /// <summary>For streaming: a piece's text with <c>▁</c> as a space (dropped at the start), a byte piece's byte.</summary>
    protected internal override void AppendTokenBytes(int id, bool isFirstToken, IBufferWriter<byte> destination)
    {
        ThrowIfOutOfRange(id);
        var bytes = _tokenBytes[id].AsSpan();
        if (isFirstToken && !bytes.IsEmpty && bytes[0] == (byte)' ' && id < _pieces.Length && _pieces[id].Type != SentencePieceType.Byte)
        {
            bytes = bytes[1..];
        }
        destination.Write(bytes);
    }

    private void ThrowIfOutOfRange(int id)
    {
        if ((uint)id >= (uint)_vocabSize)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is not in the vocabulary (size {VocabSize})");
        }
    }

    private byte[] TokenBytes(int id)
    {
        if (_addedTokenContents.TryGetValue(id, out string? content))
        {
            return Encoding.UTF8.GetBytes(content);
        }
        if (id >= _pieces.Length)
        {
            return [];
        }
        var piece = _pieces[id];
        return piece.Type switch
        {
            SentencePieceType.Byte when TryParseBytePiece(piece.Piece, out byte value) => [value],
            _ => Encoding.UTF8.GetBytes(piece.Piece.Replace(SentencePieceNormalizer.SpaceSymbol, ' ')),
        };
    }

    // T5Tokenizer.convert_tokens_to_string: special tokens in the vocabulary get a space before them (unless one
    // precedes), each stretch between them is decoded by sentencepiece, the whole is trimmed.
    private string DecodeRun(List<int> run)
    {
        var output = new StringBuilder();
        var stretch = new List<int>();
        bool previousIsSpecial = false;
        for (int index = 0; index < run.Count; index++)
        {
            int id = run[index];
            if (IsSpecialToken(id))
            {
                if (!previousIsSpecial)
                {
                    output.Append(' ');
                }
                output.Append(DecodeStretch(stretch, isRunStart: index == stretch.Count)).Append(IdToToken(id));
                stretch.Clear();
                previousIsSpecial = true;
            }
            else
            {
                stretch.Add(id);
                previousIsSpecial = false;
            }
        }
        output.Append(DecodeStretch(stretch, isRunStart: stretch.Count == run.Count));
        return output.ToString().Trim();
    }

    // sentencepiece's DecodeIds: control pieces vanish, leading ▁s are dropped until something is written.
    private string DecodeStretch(List<int> stretch, bool isRunStart)
    {
        var bytes = new List<byte>();
        bool dropLeadingSpace = NormalizerOptions.AddDummyPrefix || NormalizerOptions.RemoveExtraWhitespaces;
        for (int index = 0; index < stretch.Count; index++)
        {
            int id = stretch[index];
            ReadOnlySpan<byte> tokenBytes = _tokenBytes[id];
            // HF drops the ▁ of a run's first token itself; sentencepiece then drops one more.
            if (isRunStart && index == 0 && _pieces[id].Type != SentencePieceType.Byte && tokenBytes.StartsWith(" "u8))
            {
                tokenBytes = tokenBytes[1..];
            }
            if (bytes.Count == 0 && dropLeadingSpace && _pieces[id].Type != SentencePieceType.Byte && tokenBytes.StartsWith(" "u8))
            {
                tokenBytes = tokenBytes[1..];
            }
            bytes.AddRange(tokenBytes);
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    // Splits out added tokens, then segments each piece of text between them; reports (piece, id) in order.
    private void Segment(ReadOnlySpan<char> text, Action<string, int> emit)
    {
        while (!_addedTokens.IsEmpty && _addedTokens.TryFindNext(text, out int matchStart, out int matchLength, out var token))
        {
            SegmentPiece(text[..matchStart], emit);
            emit(token.Content, token.Id);
            text = text[(matchStart + matchLength)..];
        }
        SegmentPiece(text, emit);
    }

    private void SegmentPiece(ReadOnlySpan<char> text, Action<string, int> emit)
    {
        if (text.IsEmpty)
        {
            return;
        }
        string normalized = _normalizer.Normalize(text);
        if (normalized.Length == 0)
        {
            return;
        }
        var (starts, pieceIds) = Viterbi(normalized);
        // Backtracked spans, then consecutive unknowns merged into one piece as sentencepiece does.
        var spans = new List<(int Start, int End, int Id)>();
        for (int end = normalized.Length; end > 0; end = starts[end])
        {
            spans.Add((starts[end], end, pieceIds[end]));
        }
        spans.Reverse();
        for (int index = 0; index < spans.Count; index++)
        {
            var (start, end, id) = spans[index];
            while (id == _unknownId && index + 1 < spans.Count && spans[index + 1].Id == _unknownId)
            {
                end = spans[++index].End;
            }
            string piece = normalized[start..end];
            if (id == _unknownId && ByteFallback)
            {
                foreach (byte value in Encoding.UTF8.GetBytes(piece))
                {
                    emit(_pieces[_byteIds[value]].Piece, _byteIds[value]);
                }
            }
            else
            {
                emit(piece, id);
            }
        }
    }

    /// <summary>
    /// sentencepiece's optimized Viterbi: for each end position (UTF-16 index) the best-scoring path's last piece
    /// start and id. Scores add in float32 and ties keep the earliest start, as in sentencepiece.
    /// </summary>
    internal (int[] Starts, int[] Ids) Viterbi(string normalized)
    {
        int size = normalized.Length;
        var bestScores = new float[size + 1];
        var starts = new int[size + 1];
        var ids = new int[size + 1];
        Array.Fill(starts, -1);
        int start = 0;
        while (start < size)
        {
            float scoreSoFar = bestScores[start];
            int characterLength = char.IsHighSurrogate(normalized[start]) && start + 1 < size && char.IsLowSurrogate(normalized[start + 1]) ? 2 : 1;
            bool hasSingleCharacter = false;
            var node = _trie.Root;
            for (int position = start; position < size; position++)
            {
                if (node.Children is null || !node.Children.TryGetValue(normalized[position], out node))
                {
                    break;
                }
                if (node.Id >= 0)
                {
                    int end = position + 1;
                    var piece = _pieces[node.Id];
                    // User-defined pieces get a bonus so they are always kept whole.
                    float score = piece.Type == SentencePieceType.UserDefined ? (end - start) * _maximumScore - 0.1f : piece.Score;
                    float candidate = score + scoreSoFar;
                    if (starts[end] == -1 || candidate > bestScores[end])
                    {
                        (bestScores[end], starts[end], ids[end]) = (candidate, start, node.Id);
                    }
                    hasSingleCharacter |= end - start == characterLength;
                }
            }
            if (!hasSingleCharacter)
            {
                int end = start + characterLength;
                float candidate = _unknownScore + scoreSoFar;
                if (starts[end] == -1 || candidate > bestScores[end])
                {
                    (bestScores[end], starts[end], ids[end]) = (candidate, start, _unknownId);
                }
            }
            start += characterLength;
        }
        return (starts, ids);
    }

    private static bool TryParseBytePiece(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A character trie of the pieces the segmentation may choose.</summary>
    private sealed class PieceTrie
    {
        public Node Root { get; } = new();

        public void Add(string piece, int id)
        {
            var node = Root;
            foreach (char character in piece)
            {
                node.Children ??= [];
                if (!node.Children.TryGetValue(character, out var next))
                {
                    next = new Node();
                    node.Children[character] = next;
                }
                node = next;
            }
            // The first id of a duplicated piece wins, as in sentencepiece's piece map.
            if (node.Id < 0)
            {
                node.Id = id;
            }
        }

        public sealed class Node
        {
            public Dictionary<char, Node>? Children { get; set; }
            public int Id { get; set; } = -1;
        }
    }
}
