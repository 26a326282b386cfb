using System.IO.Compression;
using System.Text;
using Sharpformer.Tests.Tokenizers;
using Sharpformer.Tokenizers;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

public sealed class CorpusTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    internal static Tokenizer TinyTokenizer { get; } = Tokenizer.FromFolder(TinyTokenizerFolder);

    internal static string TinyTokenizerFolder => Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2");

    private string Write(string name, byte[] bytes)
    {
        string path = _folder.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Gzip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }
        return buffer.ToArray();
    }

    private static CorpusException Refused(string path) => Assert.Throws<CorpusException>(() => TextCorpus.ReadDocuments(path));

    [Fact]
    public void MissingPathIsNamed()
    {
        string path = _folder.File("nowhere.txt");
        Assert.Equal($"{path}: no such file or folder", Refused(path).Message);
    }

    [Fact]
    public void EmptyAndBlankFilesAreRefused()
    {
        Assert.Equal($"{Write("empty.txt", [])}: the file is empty", Refused(_folder.File("empty.txt")).Message);
        string blank = Write("blank.txt", "\n \n\t\n"u8.ToArray());
        Assert.Equal($"{blank}: the file holds only whitespace", Refused(blank).Message);
    }

    [Fact]
    public void BinaryFilesAreRefused()
    {
        string path = Write("image.txt", [0x89, 0x50, 0x4E, 0x47, 0x00, 0x01]);
        Assert.Equal($"{path}: binary data (a NUL byte at offset 4), not text", Refused(path).Message);
    }

    [Fact]
    public void InvalidUtf8IsRefusedWithItsOffset()
    {
        string path = Write("latin1.txt", [(byte)'c', (byte)'a', (byte)'f', 0xE9, (byte)'!']);
        var error = Refused(path);
        Assert.StartsWith($"{path}: not UTF-8 text (an invalid byte at offset 3)", error.Message);
    }

    [Fact]
    public void BrokenGzipIsRefused()
    {
        string path = Write("broken.txt.gz", [0x1f, 0x8b, 1, 2, 3]);
        Assert.StartsWith($"{path}: not a valid gzip file", Refused(path).Message);
    }

    [Fact]
    public void FolderWithoutTextFilesIsRefused()
    {
        Write("sub/notes.md", "# not a corpus"u8.ToArray());
        Assert.Equal($"{_folder.Path}: the folder holds no .txt or .txt.gz files", Refused(_folder.Path).Message);
    }

    [Fact]
    public void FolderReadsTxtAndGzFilesInPathOrderEachOneDocument()
    {
        Write("b.txt.gz", Gzip("second\r\nbook"));
        Write("a.txt", Encoding.UTF8.GetBytes("\uFEFFfirst book"));
        Write("skip.json", "{}"u8.ToArray());
        var documents = TextCorpus.ReadDocuments(_folder.Path);
        Assert.Equal(["first book", "second\nbook"], documents.Select(d => d.Text));
        Assert.EndsWith("b.txt.gz", documents[1].Source);
    }

    [Fact]
    public void DocumentsAreJoinedBySeparatorAndCutIntoSegmentsWithTheTailHeldOut()
    {
        Write("1.txt", "one two three four five six seven"u8.ToArray());
        Write("2.txt", "eight nine ten eleven twelve thirteen"u8.ToArray());
        var objective = new TestCausalObjective(separator: 999);
        var corpus = TokenizedCorpus.Load(_folder.Path, TinyTokenizer, objective, sequenceLength: 4, heldOutFraction: 0.25);
        int[] expected = [.. TinyTokenizer.Encode("one two three four five six seven"), 999, .. TinyTokenizer.Encode("eight nine ten eleven twelve thirteen")];
        Assert.Equal(expected, corpus.Tokens);
        int segments = expected.Length / 4;
        Assert.Equal(segments, corpus.Training.Count + corpus.HeldOut.Count);
        Assert.Equal(Math.Max(1, (int)Math.Round(segments * 0.25)), corpus.HeldOut.Count);
        Assert.Equal(expected[((segments - 1) * 4)..(segments * 4)], corpus.HeldOut[^1].ToArray());
        Assert.Equal(expected[..4], corpus.Training[0].ToArray());
    }

    [Fact]
    public void TextShorterThanOneSequenceIsRefused()
    {
        string path = Write("short.txt", "Hello there."u8.ToArray());
        var error = Assert.Throws<CorpusException>(() => TokenizedCorpus.Load(path, TinyTokenizer, new TestCausalObjective(999), 64, 0.1));
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(path)}: too short: \\d+ tokens, fewer than one clm row of 64 tokens", error.Message);
    }

    [Fact]
    public void SegmentOrderIsAPermutationPerEpochAndResumable()
    {
        var order = new SegmentOrder(5, seed: 9);
        int[] first = order.Next(5), second = order.Next(3);
        Assert.Equal([0, 1, 2, 3, 4], first.Order());
        Assert.Equal((1, 3), (order.Epoch, order.Index));
        var resumed = new SegmentOrder(5, seed: 9, epoch: 1, index: 3);
        var continued = order.Next(4);
        Assert.Equal(continued, resumed.Next(4));
        int[] twoEpochs = new SegmentOrder(5, seed: 9).Next(10);
        Assert.Equal([0, 1, 2, 3, 4], twoEpochs[5..].Order());
        Assert.NotEqual(twoEpochs[..5], twoEpochs[5..]); // each epoch draws its own permutation
    }
}
