using System.IO.Compression;
using System.Text;
using Sharpformer.Tokenizers;

namespace Sharpformer.Training;

/// <summary>A corpus file or folder that cannot be trained on; the message names the file and the problem.</summary>
public sealed class CorpusException(string message) : IOException(message);

/// <summary>One document of a corpus: a whole file's text (line endings normalised to \n).</summary>
public sealed record CorpusDocument(string Source, string Text);

/// <summary>
/// Reads training text: a .txt file, a .txt.gz file, or a folder of them (searched recursively, in ordinal path
/// order). Each file is one document: documents are joined with the objective's separator, so a model learns
/// the separator at file ends only, not after every paragraph (blank lines are paragraph breaks inside a book).
/// </summary>
public static class TextCorpus
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IReadOnlyList<CorpusDocument> ReadDocuments(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(IsTextFile)
                .Order(StringComparer.Ordinal)
                .ToList();
            if (files.Count == 0)
            {
                throw new CorpusException($"{path}: the folder holds no .txt or .txt.gz files");
            }
            return [.. files.Select(ReadFile)];
        }
        if (!File.Exists(path))
        {
            throw new CorpusException($"{path}: no such file or folder");
        }
        return [ReadFile(path)];
    }

    private static bool IsTextFile(string path) =>
        path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".txt.gz", StringComparison.OrdinalIgnoreCase);

    public static CorpusDocument ReadFile(string path)
    {
        byte[] bytes = ReadBytes(path);
        if (bytes.Length == 0)
        {
            throw new CorpusException($"{path}: the file is empty");
        }
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0)
        {
            throw new CorpusException($"{path}: binary data (a NUL byte at offset {nul}), not text");
        }
        string text;
        try
        {
            int start = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
            text = StrictUtf8.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException exception)
        {
            throw new CorpusException($"{path}: not UTF-8 text (an invalid byte at offset {exception.Index}); convert it to UTF-8 first");
        }
        text = text.ReplaceLineEndings("\n");
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new CorpusException($"{path}: the file holds only whitespace");
        }
        return new CorpusDocument(path, text);
    }

    private static byte[] ReadBytes(string path)
    {
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            return File.ReadAllBytes(path);
        }
        try
        {
            using var file = File.OpenRead(path);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            using var buffer = new MemoryStream();
            gzip.CopyTo(buffer);
            return buffer.ToArray();
        }
        catch (InvalidDataException exception)
        {
            throw new CorpusException($"{path}: not a valid gzip file ({exception.Message})");
        }
    }
}

/// <summary>
/// A corpus as training rows: documents tokenized, joined by the objective's separator into one stream, cut into
/// consecutive segments of <see cref="ITrainingObjective.SegmentLength"/> tokens (a shorter tail is dropped). The
/// last <c>heldOutFraction</c> of the segments (at least one when there are two or more) is held out for evaluation,
/// so the split depends only on the text, the tokenizer and the sequence length.
/// </summary>
public sealed class TokenizedCorpus
{
    private TokenizedCorpus(string source, int[] tokens, int segmentLength, int trainingCount, int heldOutCount, double heldOutFraction)
    {
        Source = source;
        HeldOutFraction = heldOutFraction;
        Tokens = tokens;
        SegmentLength = segmentLength;
        Training = [.. Enumerable.Range(0, trainingCount).Select(index => (ReadOnlyMemory<int>)tokens.AsMemory(index * segmentLength, segmentLength))];
        HeldOut = [.. Enumerable.Range(trainingCount, heldOutCount).Select(index => (ReadOnlyMemory<int>)tokens.AsMemory(index * segmentLength, segmentLength))];
    }

    public string Source { get; }

    /// <summary>The whole token stream, separators included.</summary>
    public int[] Tokens { get; }

    public int SegmentLength { get; }

    /// <summary>The fraction of segments asked to be held out (the split is the last segments of the stream).</summary>
    public double HeldOutFraction { get; }

    public IReadOnlyList<ReadOnlyMemory<int>> Training { get; }

    public IReadOnlyList<ReadOnlyMemory<int>> HeldOut { get; }

    public static TokenizedCorpus Load(string path, Tokenizer tokenizer, ITrainingObjective objective, int sequenceLength, double heldOutFraction) =>
        Create(path, TextCorpus.ReadDocuments(path), tokenizer, objective, sequenceLength, heldOutFraction);

    public static TokenizedCorpus Create(string source, IReadOnlyList<CorpusDocument> documents, Tokenizer tokenizer, ITrainingObjective objective,
        int sequenceLength, double heldOutFraction)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(objective);
        if (heldOutFraction is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, $"the held-out fraction must be in [0, 1) (got {heldOutFraction})");
        }
        int segmentLength = objective.SegmentLength(sequenceLength);
        var stream = new List<int>();
        foreach (var document in documents)
        {
            if (stream.Count > 0 && objective.DocumentSeparator >= 0)
            {
                stream.Add(objective.DocumentSeparator);
            }
            stream.AddRange(tokenizer.Encode(document.Text));
        }
        int segmentCount = stream.Count / segmentLength;
        if (segmentCount == 0)
        {
            throw new CorpusException(
                $"{source}: too short: {stream.Count} tokens, fewer than one {objective.Name} row of {segmentLength} tokens (sequence length {sequenceLength})");
        }
        int heldOut = segmentCount < 2 || heldOutFraction == 0 ? 0 : Math.Clamp((int)Math.Round(segmentCount * heldOutFraction), 1, segmentCount - 1);
        return new TokenizedCorpus(source, [.. stream], segmentLength, segmentCount - heldOut, heldOut, heldOutFraction);
    }
}

/// <summary>
/// The order training segments are read in: a fresh permutation per epoch drawn from (seed, epoch), so the position
/// (<see cref="Epoch"/>, <see cref="Index"/>) is all a checkpoint needs to continue the same order.
/// </summary>
public sealed class SegmentOrder
{
    private readonly int _count;
    private readonly ulong _seed;
    private int[] _permutation;

    public SegmentOrder(int count, ulong seed, int epoch = 0, int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (index < 0 || index > count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"position {index} is outside an epoch of {count} segments");
        }
        _count = count;
        _seed = seed;
        Epoch = epoch;
        Index = index;
        _permutation = Permutation(epoch);
    }

    public int Epoch { get; private set; }

    /// <summary>Segments of the current epoch already handed out.</summary>
    public int Index { get; private set; }

    /// <summary>The next <paramref name="batchSize"/> segment indices, running into the next epoch when this one ends.</summary>
    public int[] Next(int batchSize)
    {
        var indices = new int[batchSize];
        for (int i = 0; i < batchSize; i++)
        {
            if (Index == _count)
            {
                Epoch++;
                Index = 0;
                _permutation = Permutation(Epoch);
            }
            indices[i] = _permutation[Index++];
        }
        return indices;
    }

    private int[] Permutation(int epoch)
    {
        var rng = new Tensors.Rng(_seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 1);
        int[] order = [.. Enumerable.Range(0, _count)];
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
