using System.Text.Json;
using Sharpformer.Generation;
using Sharpformer.Models;

namespace Sharpformer.Pipelines;

/// <summary>One demonstration: an input and the output the model should imitate.</summary>
public sealed record FewShotExample(string Input, string Output);

/// <summary>
/// How a k-shot prompt is laid out, as in the GPT-3 paper's appendix G: an optional task description, then
/// "{InputLabel} {input}\n{OutputLabel} {output}" per example, examples joined by <see cref="ExampleSeparator"/>,
/// then the query with an empty output for the model to complete.
/// </summary>
public sealed record FewShotFormat(string InputLabel = "Input:", string OutputLabel = "Output:", string ExampleSeparator = "\n\n")
{
    /// <summary>Where the model's answer ends: the next example boundary (separator or a new input label).</summary>
    public IReadOnlyList<string> StopStrings => [ExampleSeparator, "\n" + InputLabel];
}

/// <summary>A generated answer and the prompt that produced it.</summary>
public sealed record FewShotAnswer(string Prompt, string Answer, FinishReason FinishReason);

/// <summary>
/// A candidate's log-likelihood given the prompt: the sum of log p(token | everything before it) over its tokens,
/// and that sum divided by the token count (GPT-3's length normalisation for multiple choice).
/// </summary>
public sealed record CandidateScore(string Candidate, int TokenCount, double LogLikelihood)
{
    public double MeanLogLikelihood => LogLikelihood / TokenCount;
}

/// <summary>How candidates are ranked.</summary>
public enum CandidateRanking
{
    /// <summary>Mean log-likelihood per candidate token (GPT-3's default, fair to long answers).</summary>
    PerToken,

    /// <summary>Summed log-likelihood (favours short answers).</summary>
    Sum,
}

/// <summary>
/// Few-shot prompting as GPT-3 used it ("Language Models are Few-Shot Learners"): no gradient updates, only k
/// demonstrations in the context. <see cref="Answer"/> generates and stops at the next example boundary;
/// <see cref="Score"/> ranks given candidate answers by their log-likelihood, as the paper evaluates multiple choice.
/// </summary>
public sealed class FewShot
{
    public FewShot(TextGenerator generator, FewShotFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        Generator = generator;
        Format = format ?? new FewShotFormat();
    }

    public TextGenerator Generator { get; }

    public FewShotFormat Format { get; }

    /// <summary>Reads a JSONL file: one {"input": "...", "output": "..."} object per line; blank lines are skipped.</summary>
    public static IReadOnlyList<FewShotExample> LoadExamples(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"few-shot examples file not found: {path}", path);
        }
        using var reader = new StreamReader(path);
        return ParseExamples(reader, path);
    }

    public static IReadOnlyList<FewShotExample> ParseExamples(TextReader reader, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var examples = new List<FewShotExample>();
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            string where = $"{source}:{lineNumber}";
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException error)
            {
                throw new FormatException($"{where}: not a JSON object ({error.Message})", error);
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new FormatException($"{where}: expected an object like {{\"input\": \"...\", \"output\": \"...\"}}, got {document.RootElement.ValueKind}");
                }
                examples.Add(new FewShotExample(Field(document.RootElement, "input", where), Field(document.RootElement, "output", where)));
            }
        }
        if (examples.Count == 0)
        {
            throw new FormatException($"{source}: holds no examples (one {{\"input\": \"...\", \"output\": \"...\"}} object per line)");
        }
        return examples;
    }

    private static string Field(JsonElement root, string name, string where) =>
        !root.TryGetProperty(name, out var value) ? throw new FormatException($"{where}: missing \"{name}\"")
        : value.ValueKind != JsonValueKind.String ? throw new FormatException($"{where}: \"{name}\" must be a string, not {value.ValueKind}")
        : value.GetString()!;

    /// <summary>
    /// The k-shot prompt: instruction, the first <paramref name="k"/> examples (null = all), then the query, ending
    /// with the output label. Answers follow the label after one space, so candidates are scored as " " + text.
    /// </summary>
    public string BuildPrompt(IReadOnlyList<FewShotExample> examples, string query, string? instruction = null, int? k = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(query);
        int count = k ?? examples.Count;
        if (count < 0 || count > examples.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(k), $"k = {count} examples requested, {examples.Count} available");
        }
        var parts = new List<string>();
        if (!string.IsNullOrWhiteSpace(instruction))
        {
            parts.Add(instruction.Trim());
        }
        foreach (var example in examples.Take(count))
        {
            parts.Add($"{Format.InputLabel} {example.Input}\n{Format.OutputLabel} {example.Output}");
        }
        parts.Add($"{Format.InputLabel} {query}\n{Format.OutputLabel}");
        return string.Join(Format.ExampleSeparator, parts);
    }

    /// <summary>Generates the answer to the query (greedy unless the options sample), cut at the next example boundary.</summary>
    public FewShotAnswer Answer(IReadOnlyList<FewShotExample> examples, string query, string? instruction = null, int? k = null,
        GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        string prompt = BuildPrompt(examples, query, instruction, k);
        var withStops = (options ?? new GenerationOptions { MaxNewTokens = 32 }) with
        {
            StopStrings = [.. Format.StopStrings, .. options?.StopStrings ?? []],
        };
        var result = Generator.Generate(prompt, withStops, cancellationToken);
        return new FewShotAnswer(prompt, result.Text.Trim(), result.FinishReason);
    }

    /// <summary>Scores every candidate answer given the k-shot prompt; best first by <paramref name="ranking"/>.</summary>
    public IReadOnlyList<CandidateScore> Score(IReadOnlyList<FewShotExample> examples, string query, IReadOnlyList<string> candidates,
        string? instruction = null, int? k = null, CandidateRanking ranking = CandidateRanking.PerToken)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count == 0 || candidates.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("give at least one candidate answer, none of them empty");
        }
        int[] promptIds = Generator.EncodePrompt(BuildPrompt(examples, query, instruction, k));
        var scores = candidates.Select(candidate => ScoreContinuation(promptIds, candidate)).ToList();
        return ranking == CandidateRanking.PerToken
            ? [.. scores.OrderByDescending(score => score.MeanLogLikelihood)]
            : [.. scores.OrderByDescending(score => score.LogLikelihood)];
    }

    /// <summary>
    /// log p(candidate | prompt): prompt and " " + candidate are tokenized separately (as GPT-3 evaluation does), the
    /// prompt is prefilled once, then each candidate token is fed through the KV cache and its log-probability read
    /// from the logits before it.
    /// </summary>
    public CandidateScore ScoreContinuation(int[] promptIds, string candidate)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(candidate);
        int[] candidateIds = [.. Generator.Tokenizer.Encode(" " + candidate.Trim())];
        var model = Generator.Model;
        if (promptIds.Length + candidateIds.Length > model.MaxPositions)
        {
            throw new ArgumentException(
                $"the prompt ({promptIds.Length} tokens) plus candidate '{candidate}' ({candidateIds.Length} tokens) exceed the model's context of {model.MaxPositions}; use fewer examples (--k)");
        }
        using var session = model.StartSession(PromptBatch.Single(promptIds), candidateIds.Length);
        var logits = new float[model.VocabSize];
        session.Prefill(logits);
        double total = 0;
        for (int t = 0; t < candidateIds.Length; t++)
        {
            total += LogSoftmaxAt(logits, candidateIds[t]);
            if (t + 1 < candidateIds.Length)
            {
                session.Step([candidateIds[t]], logits);
            }
        }
        return new CandidateScore(candidate, candidateIds.Length, total);
    }

    /// <summary>log softmax(logits)[token], in double with the max subtracted.</summary>
    private static double LogSoftmaxAt(ReadOnlySpan<float> logits, int token)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float value in logits)
        {
            sum += Math.Exp(value - max);
        }
        return logits[token] - max - Math.Log(sum);
    }
}
