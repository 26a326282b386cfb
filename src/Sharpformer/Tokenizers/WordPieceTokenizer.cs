using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sharpformer.Tokenizers;

/// <summary>One text (or sentence pair) ready for BERT: [CLS] A [SEP] (B [SEP]), segment ids and an all-ones mask.</summary>
public sealed record WordPieceEncoding(int[] InputIds, int[] TokenTypeIds, int[] AttentionMask, bool Truncated);

/// <summary>
/// BERT's WordPiece, matching HF's BertTokenizer: special tokens are split out of the text first (exact case), then
/// BasicTokenizer (drop control characters, space out CJK characters, NFC, split on whitespace, lower-case and strip
/// accents, split punctuation), then greedy longest-match-first pieces with "##" continuations, and [UNK] for a word
/// with no segmentation or longer than <see cref="MaxInputCharsPerWord"/>. Load with <see cref="Tokenizer.FromFolder"/>.
/// </summary>
public sealed class WordPieceTokenizer : Tokenizer
{
    public const string VocabTxt = "vocab.txt";
    private const string Continuation = "##";
    private static readonly string[] RequiredSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    private readonly Dictionary<string, int> _vocabulary;
    private readonly string?[] _tokens;
    private readonly Dictionary<string, int> _specialTokens;
    private readonly AddedTokenMatcher _specialMatcher;

    public WordPieceTokenizer(IReadOnlyList<string> vocabulary, bool lowerCase = true, bool? stripAccents = null, int maxInputCharsPerWord = 100,
        string source = "vocabulary")
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        _vocabulary = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        _tokens = new string?[vocabulary.Count];
        for (int id = 0; id < vocabulary.Count; id++)
        {
            _vocabulary.TryAdd(vocabulary[id], id); // HF's load_vocab keeps the last duplicate; real vocabularies have none.
            _tokens[id] = vocabulary[id];
        }
        string[] missing = RequiredSpecialTokens.Where(token => !_vocabulary.ContainsKey(token)).ToArray();
        if (missing.Length > 0)
        {
            throw new TokenizerException($"{source}: the WordPiece vocabulary lacks the special token{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)}");
        }
        _specialTokens = RequiredSpecialTokens.ToDictionary(token => token, token => _vocabulary[token], StringComparer.Ordinal);
        _specialMatcher = new AddedTokenMatcher(_specialTokens.Select(pair => new AddedToken(pair.Key, pair.Value)));
        LowerCase = lowerCase;
        StripAccents = stripAccents ?? lowerCase; // HF: strip_accents=None follows do_lower_case.
        MaxInputCharsPerWord = maxInputCharsPerWord;
    }

    public bool LowerCase { get; }

    public bool StripAccents { get; }

    public int MaxInputCharsPerWord { get; }

    public int PadTokenId => _specialTokens["[PAD]"];

    public int UnknownTokenId => _specialTokens["[UNK]"];

    public int ClsTokenId => _specialTokens["[CLS]"];

    public int SepTokenId => _specialTokens["[SEP]"];

    public int MaskTokenId => _specialTokens["[MASK]"];

    public override int VocabSize => _tokens.Length;

    public override IReadOnlyDictionary<string, int> SpecialTokens => _specialTokens;

    public override string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    public override int? TokenToId(string token) => _vocabulary.TryGetValue(token, out int id) ? id : null;

    /// <summary>vocab.txt (one token per line, id = line number); tokenizer_config.json's do_lower_case if present.</summary>
    public static WordPieceTokenizer FromVocabFile(string vocabPath, bool lowerCase = true)
    {
        if (!File.Exists(vocabPath))
        {
            throw new FileNotFoundException($"{vocabPath}: vocabulary file not found", vocabPath);
        }
        var lines = File.ReadAllText(vocabPath).Split('\n').Select(line => line.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1); // the final newline ends the last token; it is no empty token
        }
        string configPath = Path.Combine(Path.GetDirectoryName(vocabPath) ?? ".", "tokenizer_config.json");
        bool? stripAccents = null;
        int maxChars = 100;
        if (File.Exists(configPath))
        {
            using var config = JsonDocument.Parse(File.ReadAllText(configPath));
            lowerCase = Bool(config.RootElement, "do_lower_case") ?? lowerCase;
            stripAccents = Bool(config.RootElement, "strip_accents");
        }
        return new WordPieceTokenizer(lines, lowerCase, stripAccents, maxChars, vocabPath);
    }

    /// <summary>A tokenizer.json whose model is "WordPiece" with a BertNormalizer.</summary>
    public static WordPieceTokenizer FromTokenizerJson(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        if (!root.TryGetProperty("model", out var model) || !model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerException($"{path}: a WordPiece tokenizer.json needs \"model.vocab\"");
        }
        var entries = vocab.EnumerateObject().Select(entry => (entry.Name, Id: entry.Value.GetInt32())).ToList();
        var tokens = new string[entries.Count == 0 ? 0 : entries.Max(entry => entry.Id) + 1];
        Array.Fill(tokens, "");
        foreach (var (name, id) in entries)
        {
            tokens[id] = name;
        }
        string prefix = model.TryGetProperty("continuing_subword_prefix", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : Continuation;
        if (prefix != Continuation)
        {
            throw new TokenizerException($"{path}: continuing_subword_prefix \"{prefix}\" is not supported (only \"##\")");
        }
        int maxChars = model.TryGetProperty("max_input_chars_per_word", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : 100;
        bool lowerCase = true;
        bool? stripAccents = null;
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            lowerCase = Bool(normalizer, "lowercase") ?? true;
            stripAccents = Bool(normalizer, "strip_accents");
        }
        return new WordPieceTokenizer(tokens, lowerCase, stripAccents, maxChars, path);
    }

    private static bool? Bool(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null } : null;

    /// <summary>
    /// [CLS] text [SEP] (pair: [CLS] text [SEP] pair [SEP], token types 0 then 1). Longer than
    /// <paramref name="maxLength"/> tokens: truncated longest-first as HF's truncation=True, and marked Truncated.
    /// </summary>
    public WordPieceEncoding EncodeForModel(string text, string? pair = null, int maxLength = 512)
    {
        ArgumentNullException.ThrowIfNull(text);
        var first = Encode(text).ToList();
        var second = pair is null ? null : Encode(pair).ToList();
        int specials = second is null ? 2 : 3;
        if (maxLength < specials + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength), $"max length {maxLength} leaves no room for a token beside {specials} special tokens");
        }
        bool truncated = false;
        while (first.Count + (second?.Count ?? 0) + specials > maxLength)
        {
            // longest_first: drop the last token of whichever sequence is longer (the first on ties).
            var longer = second is not null && second.Count > first.Count ? second : first;
            longer.RemoveAt(longer.Count - 1);
            truncated = true;
        }
        var ids = new List<int>(first.Count + (second?.Count ?? 0) + specials) { ClsTokenId };
        ids.AddRange(first);
        ids.Add(SepTokenId);
        int firstLength = ids.Count;
        if (second is not null)
        {
            ids.AddRange(second);
            ids.Add(SepTokenId);
        }
        var types = new int[ids.Count];
        Array.Fill(types, 1, firstLength, ids.Count - firstLength);
        var mask = new int[ids.Count];
        Array.Fill(mask, 1);
        return new WordPieceEncoding([.. ids], types, mask, truncated);
    }

    /// <summary>The word pieces of <paramref name="text"/> as strings (HF tokenize()).</summary>
    public IReadOnlyList<string> Tokenize(string text) => Encode(text).Select(id => _tokens[id]!).ToList();

    protected override void EncodeCore(ReadOnlySpan<char> text, List<int> ids)
    {
        // Special tokens are matched in the raw text, case and all, before any normalisation.
        while (_specialMatcher.TryFindNext(text, out int start, out int length, out var token))
        {
            EncodeOrdinary(text[..start], ids);
            ids.Add(token.Id);
            text = text[(start + length)..];
        }
        EncodeOrdinary(text, ids);
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> ids)
    {
        if (text.IsEmpty)
        {
            return;
        }
        foreach (string word in BasicTokenize(text))
        {
            AppendWordPieces(word, ids);
        }
    }

    /// <summary>HF BasicTokenizer: the words and punctuation marks the pieces are cut from.</summary>
    private List<string> BasicTokenize(ReadOnlySpan<char> text)
    {
        // Clean: drop NUL, U+FFFD and control characters; every whitespace becomes a space; CJK characters get spaces around.
        var cleaned = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == 0 || c == 0xFFFD || IsControl(rune))
            {
                continue;
            }
            if (IsWhitespace(rune))
            {
                cleaned.Append(' ');
            }
            else if (IsChinese(c))
            {
                cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            }
            else
            {
                cleaned.Append(rune.ToString());
            }
        }
        // HF also applies NFC here (transformers ≥ 4.29); with accent stripping that is implied by the NFD below,
        // and InvariantGlobalization leaves string.Normalize without Unicode data, so it is not repeated.
        var words = new List<string>();
        foreach (string raw in cleaned.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string word = LowerCase ? raw.ToLowerInvariant() : raw;
            if (StripAccents)
            {
                word = RemoveAccents(word);
            }
            SplitOnPunctuation(word, words);
        }
        return words;
    }

    /// <summary>NFD, then drop non-spacing marks (HF _run_strip_accents): "Ångström" → "Angstrom".</summary>
    private static string RemoveAccents(string word)
    {
        var builder = new StringBuilder(word.Length);
        foreach (var rune in word.EnumerateRunes())
        {
            AppendDecomposedWithoutMarks(rune.Value, builder);
        }
        return builder.ToString();
    }

    private static void AppendDecomposedWithoutMarks(int code, StringBuilder builder)
    {
        if (code is >= HangulFirst and <= HangulLast)
        {
            // Hangul syllables decompose by formula into leading consonant, vowel and optional trailing consonant.
            int index = code - HangulFirst;
            builder.Append((char)(0x1100 + index / (21 * 28))).Append((char)(0x1161 + index % (21 * 28) / 28));
            if (index % 28 != 0)
            {
                builder.Append((char)(0x11A7 + index % 28));
            }
            return;
        }
        if (s_decompositions.Value.TryGetValue(code, out var parts))
        {
            foreach (int part in parts)
            {
                AppendDecomposedWithoutMarks(part, builder);
            }
            return;
        }
        var rune = new Rune(code);
        if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
        {
            builder.Append(rune.ToString());
        }
    }

    private const int HangulFirst = 0xAC00, HangulLast = 0xD7A3;

    // Canonical decompositions from Data/decompositions.txt (tools/make_unicode_decompositions.py): string.Normalize
    // has no Unicode data under InvariantGlobalization, which this project builds with.
    private static readonly Lazy<Dictionary<int, int[]>> s_decompositions = new(() =>
    {
        using var stream = typeof(WordPieceTokenizer).Assembly.GetManifestResourceStream("Sharpformer.Tokenizers.decompositions.txt")
            ?? throw new InvalidOperationException("the Unicode decomposition table is missing from the assembly");
        using var reader = new StreamReader(stream);
        var table = new Dictionary<int, int[]>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            table[int.Parse(line.AsSpan(0, colon), NumberStyles.HexNumber, CultureInfo.InvariantCulture)] =
                [.. line[(colon + 1)..].Split(' ').Select(part => int.Parse(part, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];
        }
        return table;
    });

    private static void SplitOnPunctuation(string word, List<string> words)
    {
        int start = 0;
        int index = 0;
        foreach (var rune in word.EnumerateRunes())
        {
            int width = rune.Utf16SequenceLength;
            if (IsPunctuation(rune))
            {
                if (index > start)
                {
                    words.Add(word[start..index]);
                }
                words.Add(word.Substring(index, width));
                start = index + width;
            }
            index += width;
        }
        if (word.Length > start)
        {
            words.Add(word[start..]);
        }
    }

    /// <summary>Greedy longest match first; a word with an unmatched rest, or too long, becomes [UNK] as a whole.</summary>
    private void AppendWordPieces(string word, List<int> ids)
    {
        // The limit counts characters (code points), as Python's len() does.
        if (CodePointCount(word) > MaxInputCharsPerWord)
        {
            ids.Add(UnknownTokenId);
            return;
        }
        int firstPiece = ids.Count;
        int start = 0;
        while (start < word.Length)
        {
            int end = word.Length;
            int found = -1;
            while (end > start)
            {
                string piece = start > 0 ? Continuation + word[start..end] : word[start..end];
                if (_vocabulary.TryGetValue(piece, out int id))
                {
                    found = id;
                    break;
                }
                end--;
                if (end > start && char.IsLowSurrogate(word[end]))
                {
                    end--; // never cut a surrogate pair in two
                }
            }
            if (found < 0)
            {
                ids.RemoveRange(firstPiece, ids.Count - firstPiece);
                ids.Add(UnknownTokenId);
                return;
            }
            ids.Add(found);
            start = end;
        }
    }

    private static int CodePointCount(string word)
    {
        int count = 0;
        foreach (var _ in word.EnumerateRunes())
        {
            count++;
        }
        return count;
    }

    // Tab, newline and carriage return count as whitespace, not control, as in HF.
    private static bool IsWhitespace(Rune rune) =>
        rune.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    private static bool IsControl(Rune rune) =>
        rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    // ASCII non-letters/digits count as punctuation even where Unicode says symbol ($, ^, `), as in HF.
    private static bool IsPunctuation(Rune rune)
    {
        int c = rune.Value;
        if (c is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126)
        {
            return true;
        }
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    // The CJK Unified Ideographs blocks (not Hiragana, Katakana or Hangul, which are written with spaces or not split).
    private static bool IsChinese(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    /// <summary>
    /// HF decode: pieces joined by spaces, "##" continuations glued on; with <paramref name="cleanUpTokenizationSpaces"/>
    /// (HF's default for BERT) the spaces before . ? ! , and in contractions are removed too.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens, bool cleanUpTokenizationSpaces)
    {
        string text = Decode(ids, skipSpecialTokens);
        return cleanUpTokenizationSpaces ? CleanUpTokenizationSpaces(text) : text;
    }

    /// <summary>HF's clean_up_tokenization.</summary>
    public static string CleanUpTokenizationSpaces(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
            .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
            .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);
    }

    protected internal override void AppendTokenBytes(int id, bool isFirstToken, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        string token = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is not in the vocabulary of {VocabSize}");
        // A "##" piece continues the previous word; every other token starts a new one after a space.
        string text = token.StartsWith(Continuation, StringComparison.Ordinal) && token.Length > Continuation.Length
            ? token[Continuation.Length..]
            : isFirstToken ? token : " " + token;
        int length = Encoding.UTF8.GetByteCount(text);
        Encoding.UTF8.GetBytes(text, destination.GetSpan(length));
        destination.Advance(length);
    }
}
