using System.Text.Json;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

/// <summary>Writes a byte-level BPE tokenizer.json in Hugging Face's layout (as tokenizers' save() does for GPT-2).</summary>
public static class HfTokenizerJson
{
    public static void Write(string path, IReadOnlyDictionary<string, int> vocabulary, IEnumerable<(string Left, string Right)> merges,
        IEnumerable<AddedToken> addedTokens, bool addPrefixSpace = false, bool mergesAsPairs = false)
    {
        using var stream = System.IO.File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteNull("truncation");
        json.WriteNull("padding");
        json.WriteStartArray("added_tokens");
        foreach (var token in addedTokens)
        {
            json.WriteStartObject();
            json.WriteNumber("id", token.Id);
            json.WriteString("content", token.Content);
            json.WriteBoolean("single_word", token.SingleWord);
            json.WriteBoolean("lstrip", token.LeftStrip);
            json.WriteBoolean("rstrip", token.RightStrip);
            json.WriteBoolean("normalized", true);
            json.WriteBoolean("special", token.Special);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteNull("normalizer");
        WriteByteLevel(json, "pre_tokenizer", addPrefixSpace);
        WriteByteLevel(json, "post_processor", addPrefixSpace);
        WriteByteLevel(json, "decoder", addPrefixSpace);
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        json.WriteNull("unk_token");
        json.WriteString("continuing_subword_prefix", "");
        json.WriteString("end_of_word_suffix", "");
        json.WriteBoolean("fuse_unk", false);
        json.WriteBoolean("byte_fallback", false);
        json.WriteStartObject("vocab");
        foreach (var (token, id) in vocabulary.OrderBy(entry => entry.Value))
        {
            json.WriteNumber(token, id);
        }
        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            if (mergesAsPairs)
            {
                json.WriteStartArray();
                json.WriteStringValue(left);
                json.WriteStringValue(right);
                json.WriteEndArray();
            }
            else
            {
                json.WriteStringValue($"{left} {right}");
            }
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>The merges of a merges.txt, in rank order.</summary>
    public static List<(string Left, string Right)> ReadMergesText(string path) =>
        [.. System.IO.File.ReadLines(path).Skip(1).Where(line => line.Length > 0).Select(line => line.Split(' ')).Select(parts => (parts[0], parts[1]))];

    private static void WriteByteLevel(Utf8JsonWriter json, string name, bool addPrefixSpace)
    {
        json.WriteStartObject(name);
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", addPrefixSpace);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", true);
        json.WriteEndObject();
    }
}
