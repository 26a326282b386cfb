using Sharpformer.Generation;
using Sharpformer.Models;
using Sharpformer.Pipelines;
using Sharpformer.Tests.Cli;
using Sharpformer.Tests.Generation;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Pipelines;

/// <summary>
/// GPT-3-style few-shot prompting on the bundled model. Nothing here depends on the model being good: the prompt
/// layout is checked as text, the stop at the example boundary with a scripted model, and candidate scores against
/// log-likelihoods computed independently from one full forward's logits.
/// </summary>
public sealed class FewShotTests : IDisposable
{
    private static readonly string BundledModel = Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2");
    private static readonly FewShotExample[] Examples = [new("cat", "animal"), new("rose", "plant"), new("dog", "animal")];
    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-fewshot-").FullName;
    private readonly TextGenerator _generator = TextGenerator.Load(BundledModel);

    public void Dispose()
    {
        _generator.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void PromptHoldsInstructionThenKExamplesThenTheQuery()
    {
        var fewShot = new FewShot(_generator);
        Assert.Equal("Classify each word.\n\nInput: cat\nOutput: animal\n\nInput: rose\nOutput: plant\n\nInput: tulip\nOutput:",
            fewShot.BuildPrompt(Examples, "tulip", "Classify each word.", k: 2));
        Assert.Equal("Input: tulip\nOutput:", fewShot.BuildPrompt(Examples, "tulip", k: 0)); // zero-shot
        var custom = new FewShot(_generator, new FewShotFormat("Q:", "A:", "\n"));
        Assert.Equal("Q: cat\nA: animal\nQ: rose\nA: plant\nQ: dog\nA: animal\nQ: tulip\nA:", custom.BuildPrompt(Examples, "tulip"));
        Assert.Contains("4 examples requested, 3 available",
            Assert.Throws<ArgumentOutOfRangeException>(() => fewShot.BuildPrompt(Examples, "x", k: 4)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnswerStopsAtTheNextExampleBoundary()
    {
        // A scripted model continues with " plant" and then starts another example; the answer is cut before it.
        var tokenizer = _generator.Tokenizer;
        int[] script = [.. tokenizer.Encode(" plant\n\nInput: daisy\nOutput: plant")];
        int promptLength = -1;
        var fake = new FakeLanguageModel(_generator.Model.VocabSize, (history, logits) =>
        {
            promptLength = promptLength < 0 ? history.Count : promptLength;
            FakeLanguageModel.Favour(logits, script[Math.Min(history.Count - promptLength, script.Length - 1)]);
        });
        var fewShot = new FewShot(new TextGenerator(fake, tokenizer));
        var answer = fewShot.Answer(Examples, "tulip", options: new GenerationOptions { MaxNewTokens = script.Length });
        Assert.Equal("plant", answer.Answer);
        Assert.Equal(FinishReason.Stop, answer.FinishReason);
        Assert.EndsWith("Input: tulip\nOutput:", answer.Prompt, StringComparison.Ordinal);

        // The other boundary: a new input label after a single newline.
        script = [.. tokenizer.Encode(" a flower\nInput: daisy")];
        promptLength = -1;
        Assert.Equal("a flower", fewShot.Answer(Examples, "tulip", options: new GenerationOptions { MaxNewTokens = script.Length }).Answer);
    }

    [Fact]
    public void CandidateScoresEqualLogLikelihoodsFromOneFullForward()
    {
        var fewShot = new FewShot(_generator);
        string[] candidates = ["plant", "animal", "a kind of fish", "tree"];
        string prompt = fewShot.BuildPrompt(Examples, "tulip");
        var model = (Gpt2Model)_generator.Model;
        int[] promptIds = [.. _generator.Tokenizer.Encode(prompt)];
        var independent = new Dictionary<string, (double Sum, int Count)>();
        foreach (string candidate in candidates)
        {
            int[] candidateIds = [.. _generator.Tokenizer.Encode(" " + candidate)];
            int[] ids = [.. promptIds, .. candidateIds];
            var logits = model.Forward(ids, 1, ids.Length).Logits.Span;
            double sum = 0;
            for (int t = promptIds.Length; t < ids.Length; t++)
            {
                // log softmax of the logits one position earlier, evaluated at the actual next token.
                var row = logits.Slice((t - 1) * model.VocabSize, model.VocabSize);
                double logNormaliser = Math.Log(row.ToArray().Sum(value => Math.Exp(value)));
                sum += row[ids[t]] - logNormaliser;
            }
            independent[candidate] = (sum, candidateIds.Length);
        }

        var perToken = fewShot.Score(Examples, "tulip", candidates);
        var bySum = fewShot.Score(Examples, "tulip", candidates, ranking: CandidateRanking.Sum);
        foreach (var score in perToken)
        {
            Assert.Equal(independent[score.Candidate].Count, score.TokenCount);
            Assert.True(Math.Abs(independent[score.Candidate].Sum - score.LogLikelihood) < 1e-3,
                $"{score.Candidate}: {score.LogLikelihood} vs full forward {independent[score.Candidate].Sum}");
        }
        Assert.Equal(candidates.OrderByDescending(c => independent[c].Sum / independent[c].Count), perToken.Select(score => score.Candidate));
        Assert.Equal(candidates.OrderByDescending(c => independent[c].Sum), bySum.Select(score => score.Candidate));
    }

    [Fact]
    public void CandidatesThatOverflowTheContextAreRefused()
    {
        var fewShot = new FewShot(_generator);
        var many = Enumerable.Range(0, 40).Select(i => new FewShotExample($"word {i}", "answer")).ToArray();
        var error = Assert.Throws<ArgumentException>(() => fewShot.Score(many, "tulip", ["plant"]));
        Assert.Contains("context of 128", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => fewShot.Score(Examples, "tulip", []));
    }

    [Theory]
    [InlineData("{\"input\": \"a\", \"output\": \"b\"}\nnot json", "ex.jsonl:2: not a JSON object")]
    [InlineData("{\"input\": \"a\"}", "ex.jsonl:1: missing \"output\"")]
    [InlineData("\n{\"input\": 3, \"output\": \"b\"}", "ex.jsonl:2: \"input\" must be a string, not Number")]
    [InlineData("[\"a\", \"b\"]", "ex.jsonl:1: expected an object")]
    [InlineData("\n\n", "ex.jsonl: holds no examples")]
    public void BadJsonlIsRefusedNamingTheLine(string content, string expected)
    {
        string path = Path.Combine(_directory, "ex.jsonl");
        File.WriteAllText(path, content);
        var error = Assert.Throws<FormatException>(() => FewShot.LoadExamples(path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        // The CLI prints the same message on one line and fails.
        var (code, _, stderr) = CliTests.Run("fewshot", "--model", BundledModel, "--examples", path, "--query", "x");
        Assert.NotEqual(0, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void CliRanksCandidatesAndGenerates()
    {
        string path = Path.Combine(_directory, "ex.jsonl");
        File.WriteAllLines(path, ["{\"input\": \"cat\", \"output\": \"animal\"}", "{\"input\": \"rose\", \"output\": \"plant\"}"]);
        var expected = new FewShot(_generator).Score(FewShot.LoadExamples(path), "tulip", ["plant", "animal"]);
        var (code, output, error) = CliTests.Run("fewshot", "--model", BundledModel, "--examples", path, "--query", "tulip", "--candidates", "plant|animal");
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected.Select(score => score.Candidate), lines.Select(line => line.Split('\t')[0]));
        var (generateCode, generated, generateError) = CliTests.Run("fewshot", "--model", BundledModel, "--examples", path, "--query", "tulip", "--k", "1", "-n", "4");
        Assert.True(generateCode == 0, generateError);
        Assert.Equal(new FewShot(_generator).Answer(FewShot.LoadExamples(path), "tulip", k: 1, options: new GenerationOptions { MaxNewTokens = 4 }).Answer + "\n", generated.Replace("\r", "", StringComparison.Ordinal));
    }
}
