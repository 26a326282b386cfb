using System.Text.Json;
using Sharpformer.Pipelines;

namespace Sharpformer.Tests.Cli;

/// <summary>
/// fill-mask and embed end to end on the tiny BERT fixture. Its vocabulary has no words, so a vocab.txt names id i
/// "w{i}" (ids 0-4: [PAD] [UNK] [CLS] [SEP] [MASK], as the fixture's inputs use them). Row 1 of the HF goldens is then
/// the text below, and the expected values come from HF's logits and hidden states for that row.
/// </summary>
public sealed class BertCliTests : IDisposable
{
    private const string Row1Text = "w528 [MASK] w407 w953 w567 w10 w662";
    private const int Row1Length = 9; // [CLS] + 7 + [SEP]
    private readonly string _folder = Directory.CreateTempSubdirectory("sharpformer-bert-").FullName;
    private readonly Goldens _goldens = new("bert");

    public BertCliTests()
    {
        File.Copy(Fixture.File("bert", "config.json"), Path.Combine(_folder, "config.json"));
        File.Copy(Fixture.File("bert", "model.safetensors"), Path.Combine(_folder, "model.safetensors"));
        string[] special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
        File.WriteAllLines(Path.Combine(_folder, "vocab.txt"), Enumerable.Range(0, 1000).Select(i => i < special.Length ? special[i] : $"w{i}"));
    }

    public void Dispose()
    {
        _goldens.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void FillMaskJsonGivesHfTopTokensAndProbabilities()
    {
        var (code, output, error) = CliTests.Run("fill-mask", Row1Text, "--model", _folder, "--top-k", "3", "--json");
        Assert.True(code == 0, error);
        var candidates = JsonDocument.Parse(output).RootElement[0];
        // HF's prediction logits at row 1, position 2 (the [MASK]), turned into probabilities here.
        var logits = _goldens.Floats("forward_batch.prediction_logits").Span.Slice((12 + 2) * 1000, 1000).ToArray();
        float max = logits.Max();
        double total = logits.Sum(l => Math.Exp(l - max));
        var expected = Enumerable.Range(0, 1000).OrderByDescending(i => logits[i]).Take(3).ToArray();
        Assert.Equal(3, candidates.GetArrayLength());
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(expected[k], candidates[k].GetProperty("token_id").GetInt32());
            Assert.Equal(expected[k] < 5 ? candidates[k].GetProperty("token").GetString() : $"w{expected[k]}", candidates[k].GetProperty("token").GetString());
            Assert.Equal(Math.Exp(logits[expected[k]] - max) / total, candidates[k].GetProperty("score").GetDouble(), 1e-4);
        }
        Assert.StartsWith("w528 ", candidates[0].GetProperty("sequence").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void FillMaskTextOutputListsTopKLines()
    {
        var (code, output, error) = CliTests.Run("fill-mask", Row1Text, "--model", _folder);
        Assert.True(code == 0, error);
        Assert.Equal(5, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Theory]
    [InlineData("mean")]
    [InlineData("cls")]
    public void EmbedPoolsHfHiddenStatesOverTheMask(string pooling)
    {
        // Two texts of different length: row 1 is padded in the batch, which must not change its vector.
        var (code, output, error) = CliTests.Run("embed", Row1Text, Row1Text + " w11 w12", "--model", _folder, "--pooling", pooling, "--normalize", "--json");
        Assert.True(code == 0, error);
        var vector = JsonDocument.Parse(output).RootElement[0].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var hidden = _goldens.Floats("forward_batch.last_hidden_state").Span.Slice(12 * 64, 12 * 64).ToArray();
        var expected = new double[64];
        int count = pooling == "mean" ? Row1Length : 1;
        for (int t = 0; t < count; t++)
        {
            for (int d = 0; d < 64; d++)
            {
                expected[d] += hidden[t * 64 + d] / (double)count;
            }
        }
        double norm = Math.Sqrt(expected.Sum(v => v * v));
        Assert.Equal(64, vector.Length);
        for (int d = 0; d < 64; d++)
        {
            Assert.Equal(expected[d] / norm, vector[d], 1e-4);
        }
    }

    [Fact]
    public void EmbedTruncatesOverLongTextsWithAWarning()
    {
        string longText = string.Join(' ', Enumerable.Repeat("w10", 300));
        var (code, output, error) = CliTests.Run("embed", longText, "--model", _folder, "--json");
        Assert.Equal(0, code);
        Assert.Contains("warning: text 1 was truncated to 128 tokens", error, StringComparison.Ordinal);
        Assert.Equal(128, JsonDocument.Parse(output).RootElement[0].GetProperty("tokens").GetInt32());
    }

    [Fact]
    public void ClearErrors()
    {
        var noMask = CliTests.Run("fill-mask", "w528 w407", "--model", _folder);
        Assert.Equal(1, noMask.Code);
        Assert.Equal("error: the text has no [MASK] token to fill", noMask.Error.Trim());

        var tooLong = CliTests.Run("fill-mask", "[MASK] " + string.Join(' ', Enumerable.Repeat("w10", 200)), "--model", _folder);
        Assert.Equal(1, tooLong.Code);
        Assert.Equal("error: the text is 203 tokens with [CLS] and [SEP]; the model takes at most 128", tooLong.Error.Trim());

        File.WriteAllLines(Path.Combine(_folder, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "w3"]);
        var badVocab = CliTests.Run("embed", "w3", "--model", _folder);
        Assert.Equal(1, badVocab.Code);
        Assert.StartsWith("error: ", badVocab.Error, StringComparison.Ordinal);
        Assert.Contains("lacks the special tokens [SEP], [MASK]", badVocab.Error, StringComparison.Ordinal);

    }

    [Fact]
    public void LibraryPipelinesMatchTheCli()
    {
        using var embedder = SentenceEmbedder.Load(_folder);
        var single = embedder.Embed([Row1Text])[0];
        var batched = embedder.Embed([Row1Text + " w11 w12 w13", Row1Text])[1];
        Assert.Equal(Row1Length, single.TokenCount);
        Assert.Equal(single.Vector, batched.Vector, (a, b) => Math.Abs(a - b) <= 1e-5f);
        using var fill = FillMask.Load(_folder);
        var predictions = fill.Predict(Row1Text.Replace("w407", "[MASK]", StringComparison.Ordinal), topK: 2);
        Assert.Equal(2, predictions.Count);
        Assert.All(predictions, candidates => Assert.True(candidates[0].Probability >= candidates[1].Probability));
    }
}
