using System.ClientModel;
using System.Text.RegularExpressions;
using OpenAI;
using OpenAI.Chat;
using Sharpformer.Generation;
using Sharpformer.Models;
using Sharpformer.Pipelines;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests;

/// <summary>Keeps the README true: its C# examples are run here, and the README must quote this file's code.</summary>
public sealed partial class ReadmeTests
{
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Sharpformer.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("the repository root (with Sharpformer.slnx) is not above the test binary");
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [Fact]
    public void EveryReadmeCSharpLineIsInTheExamplesBelow()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string source = File.ReadAllText(Path.Combine(root, "tests", "Sharpformer.Tests", "ReadmeTests.cs"));
        var blocks = CSharpBlock().Matches(readme).Select(match => match.Groups[1].Value).ToArray();
        Assert.NotEmpty(blocks);
        foreach (string line in blocks.SelectMany(block => block.Split('\n')).Select(line => line.Trim()).Where(line => line.Length > 0))
        {
            Assert.True(source.Contains(line, StringComparison.Ordinal), $"README line not exercised by ReadmeTests: {line}");
        }
    }

    [Fact]
    public async Task TextGeneratorExample()
    {
        string previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(RepositoryRoot());
        try
        {
            using var generator = TextGenerator.Load("models/tiny-gpt2");   // a folder, or a model id in the HF cache
            TextGeneration greedy = generator.Generate("The meaning of life is", new GenerationOptions { MaxNewTokens = 20 });
            Console.WriteLine(greedy.Text);

            var sampling = new GenerationOptions { MaxNewTokens = 20, Temperature = 0.8f, TopP = 0.95f, Seed = 42 };
            var streamed = new System.Text.StringBuilder();
            await foreach (string piece in generator.StreamAsync("Once upon a time", sampling))
            {
                Console.Write(piece);
                streamed.Append(piece);
            }

            // Greedy is deterministic and agrees with the raw argmax of the model; the stream equals the batch text.
            Assert.Equal(20, greedy.GeneratedIds.Length);
            Assert.Equal(generator.Tokenizer.Decode(greedy.GeneratedIds), greedy.Text);
            var again = generator.Generate("Once upon a time", sampling);
            Assert.Equal(again.Text, streamed.ToString());
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    [Fact]
    public void ModelAndCacheExample()
    {
        string previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(RepositoryRoot());
        try
        {
            ModelAndCache();
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    [Fact]
    public void FewShotExample()
    {
        string previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(RepositoryRoot());
        try
        {
            using var fewShotGenerator = TextGenerator.Load("models/tiny-gpt2");
            var fewShot = new FewShot(fewShotGenerator);
            FewShotExample[] examples = [new("cat", "animal"), new("rose", "plant"), new("dog", "animal")];
            string prompt = fewShot.BuildPrompt(examples, "tulip", instruction: "Is it a plant or an animal?");
            FewShotAnswer answer = fewShot.Answer(examples, "tulip", instruction: "Is it a plant or an animal?");
            IReadOnlyList<CandidateScore> ranked = fewShot.Score(examples, "tulip", ["plant", "animal"]);
            Console.WriteLine($"{answer.Answer} | best candidate: {ranked[0].Candidate} ({ranked[0].MeanLogLikelihood:0.00} per token)");

            Assert.Equal(prompt, answer.Prompt);
            Assert.StartsWith("Is it a plant or an animal?\n\nInput: cat\nOutput: animal\n\n", prompt, StringComparison.Ordinal);
            Assert.DoesNotContain("\n\n", answer.Answer, StringComparison.Ordinal); // cut at the example boundary
            Assert.Equal(2, ranked.Count);
            Assert.True(ranked[0].MeanLogLikelihood >= ranked[1].MeanLogLikelihood);
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    private static void ModelAndCache()
    {
        using var model = (Gpt2Model)ModelRegistry.Load("models/tiny-gpt2");
        Tokenizer tokenizer = Tokenizer.FromFolder("models/tiny-gpt2");
        int[] ids = [.. tokenizer.Encode("Hello world")];

        KvCache cache = model.CreateCache(batchSize: 1, capacity: 64);          // past_key_values
        ModelOutput output = model.Forward(ids, batchSize: 1, tokenCount: ids.Length, cache: cache, outputHiddenStates: true);
        // output.Logits: [1, tokens, vocab]; output.HiddenStates[i]: [1, tokens, hidden], HF order
        int next = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(output.Logits.Span[^model.VocabSize..]);
        ModelOutput step = model.Forward([next], batchSize: 1, tokenCount: 1, cache: cache);   // reuses the cache

        Assert.Equal(ids.Length + 1, cache.Length);
        Assert.Equal(model.Config.LayerCount + 1, output.HiddenStates!.Count);
        var recomputed = model.Forward([.. ids, next], 1, ids.Length + 1).Logits.Span[^model.VocabSize..];
        Goldens.AssertClose(recomputed, step.Logits.Span, 1e-4f, "cached step vs recompute");
    }

    [Fact]
    public async Task OpenAiClientExample()
    {
        // The server over a copy of tiny-gpt2 with a ChatML template, and tiny-bert; the README's URL is its usual address.
        var fixture = new Server.ChatServerFixture();
        await fixture.InitializeAsync();
        try
        {
            var endpoint = new Uri(fixture.Host.Client.BaseAddress!, "/v1"); // README: var endpoint = new Uri("http://127.0.0.1:8080/v1");
            var client = new OpenAIClient(new ApiKeyCredential("KEY"), new OpenAIClientOptions { Endpoint = endpoint });
            ChatCompletion reply = client.GetChatClient("tiny-gpt2").CompleteChat([new UserChatMessage("Hi there")], new ChatCompletionOptions { MaxOutputTokenCount = 8 }).Value;
            Console.WriteLine(reply.Content[0].Text);
            ReadOnlyMemory<float> vector = client.GetEmbeddingClient("tiny-bert").GenerateEmbedding("some text").Value.ToFloats();

            // The API's default temperature is 1, so the reply is sampled: 8 tokens, or fewer when it stopped at the end
            // of the turn.
            Assert.True(reply.FinishReason == ChatFinishReason.Length ? reply.Usage.OutputTokenCount == 8
                : reply.FinishReason == ChatFinishReason.Stop && reply.Usage.OutputTokenCount is > 0 and < 8,
                $"{reply.FinishReason} after {reply.Usage.OutputTokenCount} tokens");
            Assert.Equal(fixture.Host.Models.Embedder!.Embed(["some text"], Pooling.Mean, normalize: true)[0].Vector, vector.ToArray());
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }
}
