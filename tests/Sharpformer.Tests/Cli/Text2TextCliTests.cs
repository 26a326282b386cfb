using System.Text.Json;

namespace Sharpformer.Tests.Cli;

/// <summary>`sharpformer text2text` on the tiny BART and T5 fixtures (no tokenizer files: ids in, ids out).</summary>
public sealed class Text2TextCliTests
{
    /// <summary>Runs one golden's first input row through the CLI and compares with HF's sequence minus the decoder start token.</summary>
    [Theory]
    [InlineData("bart", "greedy_single", 20, 1)]
    [InlineData("t5", "greedy_single", 20, 1)]
    [InlineData("t5_v1_1", "beam_batch", 12, 4)]
    [InlineData("bart", "beam_batch", 12, 4)]
    public void JsonOutputHoldsTheIdsHfGenerates(string fixture, string entry, int maxNewTokens, int beams)
    {
        using var goldens = new Goldens(fixture);
        int[] input = goldens.Ints($"{entry}.input_ids", out var inputShape);
        int[] mask = goldens.Ints($"{entry}.attention_mask");
        Assert.All(mask[..inputShape[1]], value => Assert.Equal(1, value)); // row 0 is unpadded, so it stands alone
        int[] row = input[..inputShape[1]];
        int[] sequences = goldens.Ints($"{entry}.sequences", out var shape);

        var (code, output, error) = CliTests.Run("text2text", "--model", Fixture.File(fixture), "--input-ids", string.Join(',', row),
            "--max-new-tokens", maxNewTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--num-beams", beams.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(row, json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()));
        int[] ids = [.. json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
        int[] expected = sequences[1..shape[1]]; // HF's row 0 without the decoder start token
        int pad = fixture == "bart" ? 1 : 0;
        Assert.Equal(expected.Reverse().SkipWhile(id => id == pad).Reverse(), ids);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("text").ValueKind);
    }

    [Fact]
    public void T5TextInputGoesThroughTheUnigramTokenizer()
    {
        // The t5 fixture's weights with the fixture spiece.model: text in, text out, consistent with ids in, ids out.
        string folder = Directory.CreateTempSubdirectory("sharpformer-t5-text-").FullName;
        try
        {
            foreach (string file in new[] { "config.json", "generation_config.json", "model.safetensors" })
            {
                File.Copy(Fixture.File("t5", file), Path.Combine(folder, file));
            }
            File.Copy(Fixture.File("tokenizers", "t5", "spiece.model"), Path.Combine(folder, "spiece.model"));
            var tokenizer = Sharpformer.Tokenizers.Tokenizer.FromFolder(folder);
            const string input = "summarize: the licence grants you the right to copy";

            var (code, output, error) = CliTests.Run("text2text", input, "--model", folder, "-n", "8", "--json");
            Assert.True(code == 0, error);
            using var json = JsonDocument.Parse(output);
            int[] inputIds = [.. json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32())];
            Assert.Equal(tokenizer.Encode(input), inputIds); // T5 appends </s>
            Assert.Equal(1, inputIds[^1]);
            int[] ids = [.. json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            Assert.Equal(tokenizer.Decode(ids, skipSpecialTokens: true), json.RootElement.GetProperty("text").GetString());

            var (idsCode, idsOutput, _) = CliTests.Run("text2text", "--input-ids", string.Join(',', inputIds), "--model", folder, "-n", "8", "--json");
            Assert.Equal(0, idsCode);
            using var idsJson = JsonDocument.Parse(idsOutput);
            Assert.Equal(ids, idsJson.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void TextWithoutATokenizerIsRefusedWithOneLine()
    {
        var (code, _, error) = CliTests.Run("text2text", "summarize: hello", "--model", Fixture.File("t5"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("no usable tokenizer", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void GeneratePointsEncoderDecodersToText2TextAndTheReverse()
    {
        var (code, _, error) = CliTests.Run("generate", "--prompt-ids", "5,6", "--model", Fixture.File("bart"));
        Assert.Equal(1, code);
        Assert.Contains("text2text", error);

        (code, _, error) = CliTests.Run("text2text", "--input-ids", "5,6", "--model", Fixture.File("gpt2"));
        Assert.Equal(1, code);
        Assert.Contains("use `sharpformer generate`", error);
    }
}
