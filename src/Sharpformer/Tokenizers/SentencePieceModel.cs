using System.Buffers.Binary;
using System.Text;

using Sharpformer.IO;

namespace Sharpformer.Tokenizers;

/// <summary>The kind of a SentencePiece vocabulary entry (sentencepiece_model.proto's SentencePiece.Type).</summary>
public enum SentencePieceType
{
    /// <summary>An ordinary piece the segmentation may choose.</summary>
    Normal = 1,
    /// <summary>The unknown token, <c>&lt;unk&gt;</c>.</summary>
    Unknown = 2,
    /// <summary>A control token such as <c>&lt;/s&gt;</c> or <c>&lt;pad&gt;</c>: never produced from text, decodes to nothing.</summary>
    Control = 3,
    /// <summary>A piece always kept whole when it occurs in text.</summary>
    UserDefined = 4,
    /// <summary>A piece the segmentation ignores.</summary>
    Unused = 5,
    /// <summary>One byte for byte fallback, written <c>&lt;0xNN&gt;</c>.</summary>
    Byte = 6,
}

/// <summary>One vocabulary entry: its text (with <c>▁</c> for a space), its log-probability score and its kind.</summary>
public sealed record SentencePiece(string Piece, float Score, SentencePieceType Type = SentencePieceType.Normal);

/// <summary>
/// How text is normalized before segmentation (sentencepiece's NormalizerSpec). <paramref name="PrecompiledCharsmap"/>
/// is the compiled rule set (e.g. nmt_nfkc), null for none.
/// </summary>
public sealed record SentencePieceNormalizerOptions(byte[]? PrecompiledCharsmap = null, bool AddDummyPrefix = true,
    bool RemoveExtraWhitespaces = true, bool EscapeWhitespaces = true);

/// <summary>The parts of a SentencePiece ModelProto (spiece.model) that encoding and decoding need.</summary>
internal sealed record SentencePieceModel(IReadOnlyList<SentencePiece> Pieces, SentencePieceNormalizerOptions Normalizer,
    bool ByteFallback, string ModelType, string NormalizerName)
{
    /// <summary>Reads spiece.model; every error names the file.</summary>
    public static SentencePieceModel Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: SentencePiece model file not found", path);
        }
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (InvalidDataException exception)
        {
            throw new TokenizerException($"{path}: not a valid SentencePiece model: {exception.Message}", exception);
        }
    }

    /// <exception cref="InvalidDataException">The bytes are not a SentencePiece ModelProto.</exception>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data)
    {
        var pieces = new List<SentencePiece>();
        var normalizer = new SentencePieceNormalizerOptions();
        string normalizerName = "";
        bool byteFallback = false;
        int modelType = 1;
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    pieces.Add(ParsePiece(reader.ReadBytes()));
                    break;
                case (2, 2):
                    (byteFallback, modelType) = ParseTrainerSpec(reader.ReadBytes());
                    break;
                case (3, 2):
                    (normalizer, normalizerName) = ParseNormalizerSpec(reader.ReadBytes());
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        if (pieces.Count == 0)
        {
            throw new InvalidDataException("it has no pieces");
        }
        string type = modelType switch { 1 => "unigram", 2 => "bpe", 3 => "word", 4 => "char", _ => $"type {modelType}" };
        return new SentencePieceModel(pieces, normalizer, byteFallback, type, normalizerName);
    }

    private static SentencePiece ParsePiece(ReadOnlySpan<byte> data)
    {
        string? piece = null;
        float score = 0;
        int type = (int)SentencePieceType.Normal;
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    piece = ReadUtf8(reader.ReadBytes());
                    break;
                case (2, 5):
                    score = reader.ReadFloat();
                    break;
                case (3, 0):
                    type = (int)reader.ReadVarint();
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        if (piece is null)
        {
            throw new InvalidDataException("a piece has no text");
        }
        if (type is < 1 or > 6)
        {
            throw new InvalidDataException($"piece \"{piece}\" has unknown type {type}");
        }
        return new SentencePiece(piece, score, (SentencePieceType)type);
    }

    private static (bool ByteFallback, int ModelType) ParseTrainerSpec(ReadOnlySpan<byte> data)
    {
        bool byteFallback = false;
        int modelType = 1;
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (3, 0):
                    modelType = (int)reader.ReadVarint();
                    break;
                case (35, 0):
                    byteFallback = reader.ReadVarint() != 0;
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        return (byteFallback, modelType);
    }

    private static (SentencePieceNormalizerOptions Options, string Name) ParseNormalizerSpec(ReadOnlySpan<byte> data)
    {
        // proto2 defaults: all three whitespace switches are on unless written.
        string name = "";
        byte[]? charsmap = null;
        bool addDummyPrefix = true, removeExtraWhitespaces = true, escapeWhitespaces = true;
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    name = ReadUtf8(reader.ReadBytes());
                    break;
                case (2, 2):
                    charsmap = reader.ReadBytes().ToArray();
                    break;
                case (3, 0):
                    addDummyPrefix = reader.ReadVarint() != 0;
                    break;
                case (4, 0):
                    removeExtraWhitespaces = reader.ReadVarint() != 0;
                    break;
                case (5, 0):
                    escapeWhitespaces = reader.ReadVarint() != 0;
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        var options = new SentencePieceNormalizerOptions(charsmap is { Length: > 0 } ? charsmap : null,
            addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces);
        return (options, name);
    }

    private static string ReadUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException exception)
        {
            throw new InvalidDataException("a string is not valid UTF-8", exception);
        }
    }
}
