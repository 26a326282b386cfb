using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tokenizers;
using Sharpformer.Training.Objectives;

namespace Sharpformer.Training;

/// <summary>A named model size for training from scratch: HF config fields, completed with the tokenizer's vocabulary.</summary>
public sealed record TrainingPreset(string Name, string ModelType, string Description, IReadOnlyDictionary<string, object> Fields)
{
    /// <summary>The tokenizer folder under the bundled models/ folder used when --tokenizer is not given (null = the bundled model's).</summary>
    public string? DefaultTokenizer { get; init; }
}

/// <summary>A model family that can train: build one with random weights from a config, or load a checkpoint folder.</summary>
public sealed record TrainableModelKind(string ModelType, Func<HfConfig, ulong, ITrainableModel> CreateRandom, Func<string, ulong, ITrainableModel> Load);

/// <summary>A pretraining objective: the model family it trains and how to build it for a tokenizer (null = not yet trainable).</summary>
public sealed record ObjectiveKind(string Name, string ModelType, string Description, Func<Tokenizer, int, ITrainingObjective>? Create)
{
    /// <summary>Further model families with the same training interface (clm: gpt_neo, a GPT-2 with GPT-Neo blocks).</summary>
    public IReadOnlyList<string> AlsoTrains { get; init; } = [];

    public bool Trains(string modelType) => modelType == ModelType || AlsoTrains.Contains(modelType);
}

/// <summary>
/// The tables behind `sharpformer train`: model presets (data), trainable model families and objectives. Adding a
/// family or an objective is a row here.
/// </summary>
public static class TrainingCatalog
{
    // Bundled tokenizers (under models/), small so tiny models train fast: bert-base-uncased's WordPiece vocab cut to
    // its first 3,000 lines without [unusedN] (specials, characters, frequent words) plus every "##x" piece (2,969
    // tokens); the bundled model's 999 byte-level BPE tokens renumbered BART's way (<s> 0, <pad> 1, </s> 2, <unk> 3,
    // <mask> 1003); the tokenizer fixtures' 1,000-piece T5 spiece.model (+ 100 sentinels).
    public const string BertTokenizer = "tokenizers/bert-wordpiece";
    public const string BartTokenizer = "tokenizers/bart-byte-bpe";
    public const string T5Tokenizer = "tokenizers/t5-sentencepiece";

    // Decoder-only presets: the tiny ones use the 1000-token GPT-2 cut of models/tiny-gpt2 (fast tests), the bigger
    // ones the 8192-token cut the default model was trained with.
    public const string TinyGpt2Tokenizer = "tiny-gpt2";
    public const string DefaultModelTokenizer = "austen-gpt2";

    public static IReadOnlyList<TrainingPreset> Presets { get; } =
    [
        new("gpt2-tiny", "gpt2", "GPT-2, 2 layers × 64, 4 heads, context 128 (tests)", new Dictionary<string, object>
        {
            ["n_layer"] = 2, ["n_embd"] = 64, ["n_head"] = 4, ["n_positions"] = 128,
        }) { DefaultTokenizer = TinyGpt2Tokenizer },
        new("gpt2-mini", "gpt2", "GPT-2, 4 layers × 256, 8 heads, context 256 (the bundled model's size)", new Dictionary<string, object>
        {
            ["n_layer"] = 4, ["n_embd"] = 256, ["n_head"] = 8, ["n_positions"] = 256,
        }) { DefaultTokenizer = DefaultModelTokenizer },
        new("gpt-neo-tiny", "gpt_neo", "GPT-Neo, 4 layers × 64 alternating global/local (window 16), 4 heads, context 128 (tests)", new Dictionary<string, object>
        {
            ["num_layers"] = 4, ["hidden_size"] = 64, ["num_heads"] = 4, ["max_position_embeddings"] = 128, ["window_size"] = 16,
            ["attention_types"] = JsonNode.Parse("""[[["global", "local"], 2]]""")!,
        }) { DefaultTokenizer = TinyGpt2Tokenizer },
        new("gpt3-small", "gpt_neo", "GPT-3 Small shape: 12 layers × 768, 12 heads, context 2048, alternating global/local (window 256); 125M", new Dictionary<string, object>
        {
            ["num_layers"] = 12, ["hidden_size"] = 768, ["num_heads"] = 12, ["max_position_embeddings"] = 2048, ["window_size"] = 256,
            ["attention_types"] = JsonNode.Parse("""[[["global", "local"], 6]]""")!,
        }) { DefaultTokenizer = DefaultModelTokenizer },
        new("bert-tiny", "bert", "BERT, 2 layers × 64, 4 heads, 128 positions", new Dictionary<string, object>
        {
            ["num_hidden_layers"] = 2, ["hidden_size"] = 64, ["num_attention_heads"] = 4, ["intermediate_size"] = 256,
            ["max_position_embeddings"] = 128, ["type_vocab_size"] = 2,
        }) { DefaultTokenizer = BertTokenizer },
        new("bart-tiny", "bart", "BART, 2 + 2 layers × 64, 4 heads, 128 positions", new Dictionary<string, object>
        {
            ["d_model"] = 64, ["encoder_layers"] = 2, ["decoder_layers"] = 2, ["encoder_attention_heads"] = 4, ["decoder_attention_heads"] = 4,
            ["encoder_ffn_dim"] = 256, ["decoder_ffn_dim"] = 256, ["max_position_embeddings"] = 128,
        }) { DefaultTokenizer = BartTokenizer },
        new("t5-tiny", "t5", "T5 v1.0, 2 + 2 layers × 64, 4 heads of 16", new Dictionary<string, object>
        {
            ["d_model"] = 64, ["d_kv"] = 16, ["d_ff"] = 256, ["num_layers"] = 2, ["num_decoder_layers"] = 2, ["num_heads"] = 4,
        }) { DefaultTokenizer = T5Tokenizer },
        new("xlnet-tiny", "xlnet", "XLNet, 2 layers × 64, 4 heads of 16 (tests)", new Dictionary<string, object>
        {
            ["d_model"] = 64, ["d_head"] = 16, ["d_inner"] = 256, ["n_layer"] = 2, ["n_head"] = 4, ["ff_activation"] = "gelu", ["attn_type"] = "bi",
        }) { DefaultTokenizer = TinyGpt2Tokenizer },
    ];

    private static readonly Dictionary<string, TrainableModelKind> ModelKinds = new(StringComparer.Ordinal)
    {
        ["gpt2"] = new("gpt2",
            (config, seed) => Gpt2TrainableModel.CreateRandom(Gpt2Config.FromHf(config), seed, Gpt2Dropout.FromHf(config)),
            (folder, seed) => Gpt2TrainableModel.Load(folder, seed)),
        ["gpt_neo"] = new("gpt_neo", TrainableModels.Create, TrainableModels.Load),
        ["bert"] = new("bert", TrainableModels.Create, TrainableModels.Load),
        ["bart"] = new("bart", TrainableModels.Create, TrainableModels.Load),
        ["t5"] = new("t5", TrainableModels.Create, TrainableModels.Load),
        ["xlnet"] = new("xlnet",
            (config, seed) => XLNetTrainableModel.CreateRandom(XLNetConfig.FromHf(config), seed),
            (folder, _) => XLNetTrainableModel.Load(folder)),
    };

    private static readonly List<ObjectiveKind> ObjectiveKinds =
    [
        new("clm", "gpt2", "causal language modelling (next token)", (tokenizer, vocabSize) => new CausalLmObjective(EndOfText(tokenizer), vocabSize))
        {
            AlsoTrains = ["gpt_neo"],
        },
        new("mlm", "bert", "masked language modelling (15%, 80/10/10, whole words)", (tokenizer, vocabSize) => new MaskedLmObjective(
            Special(tokenizer, "[CLS]", "mlm"), Special(tokenizer, "[SEP]", "mlm"), Special(tokenizer, "[MASK]", "mlm"), Special(tokenizer, "[PAD]", "mlm"),
            vocabSize, new MaskedLmOptions { IsContinuation = WordPieceContinuation(tokenizer) }, SpecialIds(tokenizer))),
        new("denoise", "bart", "BART denoising (text infilling, sentence permutation)", (tokenizer, vocabSize) => new DenoisingObjective(
            Special(tokenizer, "<s>", "denoise"), Special(tokenizer, "</s>", "denoise"), Special(tokenizer, "<pad>", "denoise"), Special(tokenizer, "<mask>", "denoise"),
            vocabSize, FullStops(tokenizer))),
        new("span", "t5", "T5 span corruption (15%, mean span 3, sentinels)", (tokenizer, vocabSize) => new SpanCorruptionObjective(
            Special(tokenizer, "</s>", "span"), Special(tokenizer, "<pad>", "span"), vocabSize, Sentinels(tokenizer))),
        new("plm", "xlnet", "XLNet permutation language modelling", XLNetObjective),
        new("unilm", "bert", "UniLM unified masks (bidirectional, left-to-right, seq2seq)", (tokenizer, vocabSize) => new UniLmObjective(
            Special(tokenizer, "[CLS]", "unilm"), Special(tokenizer, "[SEP]", "unilm"), Special(tokenizer, "[MASK]", "unilm"), Special(tokenizer, "[PAD]", "unilm"),
            vocabSize, specialIds: SpecialIds(tokenizer))),
    ];

    private static int Special(Tokenizer tokenizer, string token, string objective) =>
        tokenizer.TokenToId(token) ?? throw new ArgumentException($"the tokenizer has no {token} token, which {objective} needs");

    // HF's all_special_ids (e.g. [UNK]) are never selected for masking.
    private static int[] SpecialIds(Tokenizer tokenizer) =>
        [.. Enumerable.Range(0, tokenizer.VocabSize).Where(tokenizer.IsSpecialToken)];

    // Whole-word masking: a WordPiece token "##…" continues the previous word.
    private static Func<int, bool> WordPieceContinuation(Tokenizer tokenizer)
    {
        var continuation = new bool[tokenizer.VocabSize];
        for (int id = 0; id < continuation.Length; id++)
        {
            continuation[id] = tokenizer.IdToToken(id) is { } token && token.StartsWith("##", StringComparison.Ordinal);
        }
        return id => (uint)id < (uint)continuation.Length && continuation[id];
    }

    // Sentence permutation splits after tokens that end a sentence (with or without byte-level BPE's leading space Ġ).
    private static int[] FullStops(Tokenizer tokenizer)
    {
        int[] ids = [.. new[] { ".", "!", "?", "\u0120.", "\u0120!", "\u0120?" }.Select(tokenizer.TokenToId).OfType<int>().Distinct()];
        return ids.Length > 0 ? ids : throw new ArgumentException("the tokenizer has no \".\", \"!\" or \"?\" token to split sentences for denoise");
    }

    // T5's sentinels <extra_id_0>, <extra_id_1>, … (descending ids in t5's vocabulary).
    private static int[] Sentinels(Tokenizer tokenizer)
    {
        var ids = new List<int>();
        while (tokenizer.TokenToId($"<extra_id_{ids.Count}>") is int id)
        {
            ids.Add(id);
        }
        return ids.Count > 0 ? [.. ids] : throw new ArgumentException("the tokenizer has no <extra_id_0> sentinel token, which span needs");
    }

    /// <summary>The special ids a new model's config takes from its tokenizer (pad, bos, eos, decoder start), by model family.</summary>
    public static Dictionary<string, int> PresetSpecialIds(string modelType, Tokenizer tokenizer, ITrainingObjective objective)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(objective);
        return modelType switch
        {
            // GPT-2 starts and ends texts with the document separator (<|endoftext|>).
            "gpt2" or "gpt_neo" when objective.DocumentSeparator >= 0 => new() { ["bos_token_id"] = objective.DocumentSeparator, ["eos_token_id"] = objective.DocumentSeparator },
            "bert" => new() { ["pad_token_id"] = Special(tokenizer, "[PAD]", objective.Name) },
            // BART's decoder starts with </s>.
            "bart" => new()
            {
                ["bos_token_id"] = Special(tokenizer, "<s>", objective.Name), ["eos_token_id"] = Special(tokenizer, "</s>", objective.Name),
                ["pad_token_id"] = Special(tokenizer, "<pad>", objective.Name), ["decoder_start_token_id"] = Special(tokenizer, "</s>", objective.Name),
                ["forced_eos_token_id"] = Special(tokenizer, "</s>", objective.Name),
            },
            // T5's decoder starts with <pad>.
            "t5" => new()
            {
                ["eos_token_id"] = Special(tokenizer, "</s>", objective.Name), ["pad_token_id"] = Special(tokenizer, "<pad>", objective.Name),
                ["decoder_start_token_id"] = Special(tokenizer, "<pad>", objective.Name),
            },
            // XLNet's config names its pad id; the separator stands for BOS/EOS on a GPT-2 tokenizer.
            "xlnet" when objective is PermutationLmObjective plm => new()
            {
                ["bos_token_id"] = plm.DocumentSeparator, ["eos_token_id"] = plm.DocumentSeparator, ["pad_token_id"] = plm.PadId,
            },
            _ => [],
        };
    }

    public static IReadOnlyList<ObjectiveKind> Objectives => ObjectiveKinds;

    /// <summary>
    /// XLNet's special tokens: &lt;mask&gt;, &lt;pad&gt;, &lt;sep&gt;, &lt;cls&gt; when the tokenizer has them (a real XLNet
    /// tokenizer); on a GPT-2 tokenizer, &lt;|endoftext|&gt; separates documents and pads, and &lt;mask&gt; is one id
    /// appended after the tokenizer's vocabulary (<see cref="PresetVocabSize"/>).
    /// </summary>
    private static PermutationLmObjective XLNetObjective(Tokenizer tokenizer, int vocabSize)
    {
        int separator = tokenizer.TokenToId("<sep>") ?? EndOfText(tokenizer);
        int pad = tokenizer.TokenToId("<pad>") ?? separator;
        int mask = tokenizer.TokenToId("<mask>")
            ?? (vocabSize > tokenizer.VocabSize ? tokenizer.VocabSize : throw new ArgumentException($"plm needs a <mask> id: the tokenizer has none and vocab_size {vocabSize} leaves no id after its {tokenizer.VocabSize} tokens"));
        int? cls = tokenizer.TokenToId("<cls>");
        return new PermutationLmObjective(mask, pad, separator, vocabSize, specialIds: cls is int id ? [id] : null);
    }

    /// <summary>The vocab_size of a new model of <paramref name="preset"/>: the tokenizer's, plus one &lt;mask&gt; id for XLNet on a tokenizer without one.</summary>
    public static int PresetVocabSize(TrainingPreset preset, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(preset);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return tokenizer.VocabSize + (preset.ModelType == "xlnet" && tokenizer.TokenToId("<mask>") is null ? 1 : 0);
    }

    // GPT-2 separates documents with <|endoftext|>.
    private static int EndOfText(Tokenizer tokenizer) =>
        tokenizer.TokenToId("<|endoftext|>") ?? throw new ArgumentException("the tokenizer has no <|endoftext|> token to separate documents for clm");

    public static TrainingPreset Preset(string name) =>
        Presets.FirstOrDefault(preset => preset.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown --model-config '{name}' (known: {string.Join(", ", Presets.Select(p => p.Name))})");

    public static ObjectiveKind Objective(string name) =>
        ObjectiveKinds.FirstOrDefault(kind => kind.Name == name)
        ?? throw new ArgumentException($"unknown --objective '{name}' (known: {string.Join(", ", ObjectiveKinds.Select(k => k.Name))})");

    /// <summary>The objective ready to use, or a clear error when its model family or data transform cannot train yet.</summary>
    public static ITrainingObjective CreateObjective(string name, Tokenizer tokenizer, int vocabSize)
    {
        var kind = Objective(name);
        RequireTrainable(kind);
        return kind.Create!(tokenizer, vocabSize);
    }

    /// <summary>Throws a clear error when the objective or its model family cannot train yet.</summary>
    public static void RequireTrainable(ObjectiveKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (kind.Create is null || !ModelKinds.ContainsKey(kind.ModelType))
        {
            throw new NotSupportedException($"objective {kind.Name} ({kind.Description}) trains a {kind.ModelType} model, which is not yet trainable (trainable: {Trainable})");
        }
    }

    private static string Trainable => ModelKinds.Count == 0 ? "none yet" : string.Join(", ", ModelKinds.Keys);

    public static TrainableModelKind ModelKind(string modelType, string source) =>
        ModelKinds.TryGetValue(modelType, out var kind)
            ? kind
            : throw new NotSupportedException($"{source}: model_type '{modelType}' is not yet trainable (trainable: {Trainable})");

    /// <summary>config.json text of a preset for a vocabulary: the preset's fields plus vocab_size and the special ids given.</summary>
    public static HfConfig PresetConfig(TrainingPreset preset, int vocabSize, IReadOnlyDictionary<string, int>? specialIds = null)
    {
        ArgumentNullException.ThrowIfNull(preset);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model_type", preset.ModelType);
            json.WriteNumber("vocab_size", vocabSize);
            foreach (var (key, value) in preset.Fields)
            {
                switch (value)
                {
                    case int number:
                        json.WriteNumber(key, number);
                        break;
                    case double number:
                        json.WriteNumber(key, number);
                        break;
                    case bool flag:
                        json.WriteBoolean(key, flag);
                        break;
                    case JsonNode node:
                        json.WritePropertyName(key);
                        node.WriteTo(json);
                        break;
                    default:
                        json.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture));
                        break;
                }
            }
            foreach (var (key, value) in specialIds ?? new Dictionary<string, int>())
            {
                json.WriteNumber(key, value);
            }
            json.WriteEndObject();
        }
        return HfConfig.Parse(Encoding.UTF8.GetString(buffer.ToArray()), $"preset {preset.Name}");
    }

    /// <summary>The context length a config allows (n_positions or max_position_embeddings), or null when it has none (T5).</summary>
    public static int? MaxPositions(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (string key in new[] { "n_positions", "max_position_embeddings" })
        {
            if (config.Has(key))
            {
                return config.GetInt(key);
            }
        }
        return null;
    }

    internal static string Format(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
