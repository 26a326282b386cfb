using System.Text.Json;

namespace Sharpformer.Tokenizers;

/// <summary>
/// Reads Hugging Face tokenizer files: tokenizer.json (the fast tokenizers' single file), else the legacy
/// vocab.json + merges.txt with optional special_tokens_map.json and added_tokens.json, or a SentencePiece
/// spiece.model (read as T5's tokenizer). Every error names the file.
/// </summary>
internal static class TokenizerFiles
{
    public const string TokenizerJson = "tokenizer.json";
    public const string VocabJson = "vocab.json";
    public const string MergesTxt = "merges.txt";
    public const string SpecialTokensMapJson = "special_tokens_map.json";
    public const string AddedTokensJson = "added_tokens.json";
    public const string SentencePieceModelFile = "spiece.model";
    private const string EndOfText = "<|endoftext|>";

    public static Tokenizer Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"{directory}: tokenizer folder not found");
        }
        string tokenizerJsonPath = Path.Combine(directory, TokenizerJson);
        if (File.Exists(tokenizerJsonPath))
        {
            return IsWordPieceJson(tokenizerJsonPath) ? WordPieceTokenizer.FromTokenizerJson(tokenizerJsonPath) : LoadTokenizerJson(tokenizerJsonPath);
        }
        // BERT's legacy file: vocab.txt, one WordPiece token per line.
        string vocabTxtPath = Path.Combine(directory, WordPieceTokenizer.VocabTxt);
        if (File.Exists(vocabTxtPath) && !File.Exists(Path.Combine(directory, VocabJson)))
        {
            return WordPieceTokenizer.FromVocabFile(vocabTxtPath);
        }
        if (File.Exists(Path.Combine(directory, VocabJson)) || File.Exists(Path.Combine(directory, MergesTxt)))
        {
            return LoadVocabAndMerges(directory);
        }
        string sentencePiecePath = Path.Combine(directory, SentencePieceModelFile);
        if (File.Exists(sentencePiecePath))
        {
            return UnigramTokenizer.FromSentencePieceModel(sentencePiecePath);
        }
        throw new FileNotFoundException(
            $"{directory}: no tokenizer files (looked for {TokenizerJson}, then {WordPieceTokenizer.VocabTxt}, then {VocabJson} + {MergesTxt}, then {SentencePieceModelFile})",
            tokenizerJsonPath);
    }

    private static bool IsWordPieceJson(string path)
    {
        using var document = ReadJson(path);
        return document.RootElement.ValueKind == JsonValueKind.Object && StringProperty(Property(document.RootElement, "model"), "type") == "WordPiece";
    }

    public static Tokenizer LoadTokenizerJson(string path)
    {
        using var document = ReadJson(path);
        var root = RequireObject(document.RootElement, path, "the file");
        var model = RequireObject(Property(root, "model"), path, "\"model\"");
        // Files from before "type" was written hold BPE whenever they have merges.
        string modelType = StringProperty(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "(none)");
        if (modelType == "Unigram")
        {
            return LoadUnigramJson(root, model, path);
        }
        if (modelType != "BPE")
        {
            throw new TokenizerException($"{path}: model type \"{modelType}\" is not supported yet (only byte-level \"BPE\" and \"Unigram\")");
        }
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (!string.IsNullOrEmpty(StringProperty(model, affix)))
            {
                throw new TokenizerException($"{path}: BPE \"{affix}\" is not supported (byte-level BPE does not use it)");
            }
        }
        if (Property(root, "normalizer").ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
        {
            throw new TokenizerException($"{path}: a \"normalizer\" is not supported for byte-level BPE");
        }
        var preTokenizer = RequireObject(Property(root, "pre_tokenizer"), path, "\"pre_tokenizer\"");
        string preTokenizerType = StringProperty(preTokenizer, "type") ?? "(none)";
        if (preTokenizerType != "ByteLevel")
        {
            throw new TokenizerException($"{path}: pre_tokenizer type \"{preTokenizerType}\" is not supported (only \"ByteLevel\")");
        }
        bool addPrefixSpace = Property(preTokenizer, "add_prefix_space").ValueKind == JsonValueKind.True;
        bool useRegex = Property(preTokenizer, "use_regex").ValueKind != JsonValueKind.False;

        var vocabulary = ReadVocabulary(RequireObject(Property(model, "vocab"), path, "\"model.vocab\""), path);
        var merges = ReadJsonMerges(Property(model, "merges"), path);
        bool ignoreMerges = Property(model, "ignore_merges").ValueKind == JsonValueKind.True;
        var bpe = new BpeModel(vocabulary, merges, ignoreMerges, rank => $"{path}: model.merges[{rank}]");
        return new ByteLevelBpeTokenizer(bpe, ReadAddedTokens(root, path), addPrefixSpace, useRegex);
    }

    // HF's Unigram: vocab [[piece, score], ...] and unk_id; the Precompiled normalizer and Metaspace pre-tokenizer map
    // onto sentencepiece's normalizer; a TemplateProcessing "$A </s>" post-processor appends the end token.
    private static UnigramTokenizer LoadUnigramJson(JsonElement root, JsonElement model, string path)
    {
        var vocab = Property(model, "vocab");
        if (vocab.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerException($"{path}: \"model.vocab\" is missing or not an array of [piece, score] pairs");
        }
        var addedTokens = ReadAddedTokens(root, path);
        var specialIds = addedTokens.Where(token => token.Special).Select(token => token.Id).ToHashSet();
        int unknownId = Property(model, "unk_id") is { ValueKind: JsonValueKind.Number } unk && unk.TryGetInt32(out int unkId) ? unkId : -1;
        var pieces = new List<SentencePiece>(vocab.GetArrayLength());
        foreach (var entry in vocab.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() != 2
                || entry[0].ValueKind != JsonValueKind.String || entry[1].ValueKind != JsonValueKind.Number)
            {
                throw new TokenizerException($"{path}: model.vocab[{pieces.Count}] is not a [piece, score] pair: {entry.GetRawText()}");
            }
            string piece = entry[0].GetString()!;
            int id = pieces.Count;
            // tokenizer.json has no piece types: the unknown id, special added tokens and <0xNN> bytes are inferred.
            var type = id == unknownId ? SentencePieceType.Unknown
                : specialIds.Contains(id) ? SentencePieceType.Control
                : piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' ? SentencePieceType.Byte
                : SentencePieceType.Normal;
            pieces.Add(new SentencePiece(piece, (float)entry[1].GetDouble(), type));
        }
        if (unknownId < 0 || unknownId >= pieces.Count)
        {
            throw new TokenizerException($"{path}: \"model.unk_id\" is missing or outside the vocabulary");
        }
        bool byteFallback = Property(model, "byte_fallback").ValueKind == JsonValueKind.True;

        byte[]? charsmap = null;
        bool removeExtraWhitespaces = false;
        foreach (var normalizer in Flatten(Property(root, "normalizer"), "normalizers"))
        {
            switch (StringProperty(normalizer, "type"))
            {
                case "Precompiled":
                    string? encoded = StringProperty(normalizer, "precompiled_charsmap");
                    try
                    {
                        charsmap = string.IsNullOrEmpty(encoded) ? null : Convert.FromBase64String(encoded);
                    }
                    catch (FormatException exception)
                    {
                        throw new TokenizerException($"{path}: \"precompiled_charsmap\" is not base64", exception);
                    }
                    break;
                case "Replace" when (StringProperty(Property(normalizer, "pattern"), "Regex") ?? StringProperty(Property(normalizer, "pattern"), "String")) == " {2,}":
                    removeExtraWhitespaces = true; // newer T5 files collapse spaces here instead of in a WhitespaceSplit
                    break;
                case var other:
                    throw new TokenizerException($"{path}: normalizer \"{other}\" is not supported for Unigram (only Precompiled)");
            }
        }
        bool addDummyPrefix = false;
        foreach (var preTokenizer in Flatten(Property(root, "pre_tokenizer"), "pretokenizers"))
        {
            switch (StringProperty(preTokenizer, "type"))
            {
                case "WhitespaceSplit":
                    removeExtraWhitespaces = true;
                    break;
                case "Metaspace":
                    string? scheme = StringProperty(preTokenizer, "prepend_scheme");
                    addDummyPrefix = scheme is null ? Property(preTokenizer, "add_prefix_space").ValueKind != JsonValueKind.False : scheme != "never";
                    break;
                case var other:
                    throw new TokenizerException($"{path}: pre_tokenizer \"{other}\" is not supported for Unigram (only Metaspace, WhitespaceSplit)");
            }
        }
        var options = new SentencePieceNormalizerOptions(charsmap, addDummyPrefix, removeExtraWhitespaces, EscapeWhitespaces: true);
        try
        {
            return new UnigramTokenizer(pieces, options, byteFallback, addedTokens, ReadEndOfSequenceId(root, path), path);
        }
        catch (InvalidDataException exception)
        {
            throw new TokenizerException($"{path}: {exception.Message}", exception);
        }
    }

    // The id a TemplateProcessing post-processor puts after "$A" (T5: </s>); null when there is none.
    private static int? ReadEndOfSequenceId(JsonElement root, string path)
    {
        var postProcessor = Property(root, "post_processor");
        if (postProcessor.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }
        if (StringProperty(postProcessor, "type") != "TemplateProcessing" || Property(postProcessor, "single") is not { ValueKind: JsonValueKind.Array } single)
        {
            throw new TokenizerException($"{path}: post_processor \"{StringProperty(postProcessor, "type")}\" is not supported for Unigram (only TemplateProcessing \"$A </s>\")");
        }
        var items = single.EnumerateArray().ToList();
        int sequenceIndex = items.FindIndex(item => Property(item, "Sequence").ValueKind == JsonValueKind.Object);
        if (sequenceIndex != 0 || items.Count > 2)
        {
            throw new TokenizerException($"{path}: post_processor template {single.GetRawText()} is not supported (only \"$A\" or \"$A <token>\")");
        }
        if (items.Count == 1)
        {
            return null;
        }
        string? name = StringProperty(Property(items[1], "SpecialToken"), "id");
        if (name is not null && Property(Property(Property(postProcessor, "special_tokens"), name), "ids") is { ValueKind: JsonValueKind.Array } ids
            && ids.GetArrayLength() == 1 && ids[0].TryGetInt32(out int id))
        {
            return id;
        }
        throw new TokenizerException($"{path}: post_processor's end token {items[1].GetRawText()} has no single id in \"special_tokens\"");
    }

    // A component, or the members of a "Sequence" of them; nothing for null.
    private static IEnumerable<JsonElement> Flatten(JsonElement element, string listName)
    {
        if (element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return [];
        }
        return StringProperty(element, "type") == "Sequence" && Property(element, listName) is { ValueKind: JsonValueKind.Array } members
            ? members.EnumerateArray().SelectMany(member => Flatten(member, listName)).ToList()
            : [element];
    }

    public static ByteLevelBpeTokenizer LoadVocabAndMerges(string directory)
    {
        string vocabPath = RequireFile(directory, VocabJson);
        string mergesPath = RequireFile(directory, MergesTxt);
        Dictionary<string, int> vocabulary;
        using (var document = ReadJson(vocabPath))
        {
            vocabulary = ReadVocabulary(RequireObject(document.RootElement, vocabPath, "the file"), vocabPath);
        }
        var (merges, lineNumbers) = ReadMergesText(mergesPath);
        var bpe = new BpeModel(vocabulary, merges, ignoreMerges: false, rank => $"{mergesPath}: line {lineNumbers[rank]}");
        return new ByteLevelBpeTokenizer(bpe, ReadLegacyAddedTokens(directory, vocabulary), addPrefixSpace: false, splitWords: true);
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        var tokens = new List<AddedToken>();
        var added = Property(root, "added_tokens");
        if (added.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return tokens;
        }
        if (added.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerException($"{path}: \"added_tokens\" is not an array");
        }
        foreach (var entry in added.EnumerateArray())
        {
            if (Property(entry, "content") is not { ValueKind: JsonValueKind.String } content
                || Property(entry, "id") is not { ValueKind: JsonValueKind.Number } id || !id.TryGetInt32(out int tokenId))
            {
                throw new TokenizerException($"{path}: added token {entry.GetRawText()} needs a \"content\" string and an integer \"id\"");
            }
            tokens.Add(new AddedToken(content.GetString()!, tokenId,
                Special: Property(entry, "special").ValueKind == JsonValueKind.True,
                LeftStrip: Property(entry, "lstrip").ValueKind == JsonValueKind.True,
                RightStrip: Property(entry, "rstrip").ValueKind == JsonValueKind.True,
                SingleWord: Property(entry, "single_word").ValueKind == JsonValueKind.True));
        }
        return tokens;
    }

    // added_tokens.json (non-special) and special_tokens_map.json; <|endoftext|> is special whenever the vocab has it,
    // as GPT2Tokenizer makes it bos, eos and unk by default.
    private static List<AddedToken> ReadLegacyAddedTokens(string directory, Dictionary<string, int> vocabulary)
    {
        var addedIds = new Dictionary<string, int>(StringComparer.Ordinal);
        string addedPath = Path.Combine(directory, AddedTokensJson);
        if (File.Exists(addedPath))
        {
            using var document = ReadJson(addedPath);
            foreach (var (content, id) in ReadVocabulary(RequireObject(document.RootElement, addedPath, "the file"), addedPath))
            {
                addedIds[content] = id;
            }
        }

        var specialContents = new List<string>();
        if (vocabulary.ContainsKey(EndOfText))
        {
            specialContents.Add(EndOfText);
        }
        string specialPath = Path.Combine(directory, SpecialTokensMapJson);
        if (File.Exists(specialPath))
        {
            using var document = ReadJson(specialPath);
            foreach (var entry in RequireObject(document.RootElement, specialPath, "the file").EnumerateObject())
            {
                var values = entry.Value.ValueKind == JsonValueKind.Array ? entry.Value.EnumerateArray().ToList() : [entry.Value];
                specialContents.AddRange(values.Select(value => SpecialTokenContent(value, specialPath, entry.Name)));
            }
        }

        // A special token in neither file takes the next free id, as the slow tokenizer's add_tokens does.
        int nextId = vocabulary.Values.Concat(addedIds.Values).DefaultIfEmpty(-1).Max() + 1;
        var tokens = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (string content in specialContents)
        {
            int id = addedIds.TryGetValue(content, out int addedId) ? addedId
                : vocabulary.TryGetValue(content, out int vocabularyId) ? vocabularyId : nextId++;
            tokens[content] = new AddedToken(content, id, Special: true);
        }
        foreach (var (content, id) in addedIds)
        {
            tokens.TryAdd(content, new AddedToken(content, id, Special: false));
        }
        return [.. tokens.Values];
    }

    private static string SpecialTokenContent(JsonElement value, string path, string name) => value switch
    {
        { ValueKind: JsonValueKind.String } => value.GetString()!,
        { ValueKind: JsonValueKind.Object } when Property(value, "content") is { ValueKind: JsonValueKind.String } content => content.GetString()!,
        _ => throw new TokenizerException($"{path}: \"{name}\" is neither a token string nor an object with \"content\""),
    };

    private static Dictionary<string, int> ReadVocabulary(JsonElement vocab, string path)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new TokenizerException($"{path}: token \"{entry.Name}\" has no valid id ({entry.Value.GetRawText()})");
            }
            vocabulary[entry.Name] = id;
        }
        return vocabulary;
    }

    // Merges are "left right" strings, or ["left", "right"] pairs in files from tokenizers 0.20 on.
    private static List<(string Left, string Right)> ReadJsonMerges(JsonElement merges, string path)
    {
        if (merges.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerException($"{path}: \"model.merges\" is missing or not an array");
        }
        var result = new List<(string, string)>(merges.GetArrayLength());
        foreach (var merge in merges.EnumerateArray())
        {
            string[]? parts = merge.ValueKind switch
            {
                JsonValueKind.String => merge.GetString()!.Split(' '),
                JsonValueKind.Array when merge.EnumerateArray().All(part => part.ValueKind == JsonValueKind.String) =>
                    [.. merge.EnumerateArray().Select(part => part.GetString()!)],
                _ => null,
            };
            if (parts is not { Length: 2 })
            {
                throw new TokenizerException($"{path}: model.merges[{result.Count}] is not a pair of tokens: {merge.GetRawText()}");
            }
            result.Add((parts[0], parts[1]));
        }
        return result;
    }

    private static (List<(string Left, string Right)> Merges, List<int> LineNumbers) ReadMergesText(string path)
    {
        var merges = new List<(string, string)>();
        var lineNumbers = new List<int>();
        int lineNumber = 0;
        foreach (string rawLine in File.ReadLines(path))
        {
            lineNumber++;
            string line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new TokenizerException($"{path}: line {lineNumber} is not a merge \"left right\": \"{line}\"");
            }
            merges.Add((parts[0], parts[1]));
            lineNumbers.Add(lineNumber);
        }
        return (merges, lineNumbers);
    }

    private static string RequireFile(string directory, string name)
    {
        string path = Path.Combine(directory, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path}: file not found (byte-level BPE needs {VocabJson} and {MergesTxt})", path);
    }

    private static JsonDocument ReadJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException exception)
        {
            throw new TokenizerException($"{path}: invalid JSON: {exception.Message}", exception);
        }
    }

    private static JsonElement RequireObject(JsonElement element, string path, string what) =>
        element.ValueKind == JsonValueKind.Object ? element : throw new TokenizerException($"{path}: {what} is missing or not a JSON object");

    private static string? StringProperty(JsonElement element, string name) =>
        Property(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    // The property's value, or a default (Undefined) element when absent or when the parent is not an object.
    private static JsonElement Property(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;
}
