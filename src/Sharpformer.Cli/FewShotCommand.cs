using System.CommandLine;
using System.Globalization;
using Sharpformer.Pipelines;

namespace Sharpformer.Cli;

/// <summary>
/// `sharpformer fewshot`: GPT-3-style in-context learning. Builds a k-shot prompt from a JSONL file of examples and
/// either generates the answer (stopping at the next example boundary) or ranks --candidates by log-likelihood.
/// </summary>
internal static class FewShotCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommandLine.ModelOption("decoder-only model folder or Hugging Face model id (default: the bundled model)");
        var examples = new Option<string>("--examples") { Description = "JSONL file, one {\"input\": ..., \"output\": ...} per line", Required = true };
        var query = new Option<string>("--query", "-q") { Description = "the input to answer", Required = true };
        var k = new Option<int?>("--k") { Description = "how many examples to show (default: all in the file)" };
        var instruction = new Option<string?>("--instruction") { Description = "a task description placed before the examples" };
        var candidates = new Option<string?>("--candidates") { Description = "score these answers instead of generating, separated by |, e.g. \"yes|no\"" };
        var sum = new Option<bool>("--rank-by-sum") { Description = "rank candidates by summed log-likelihood (default: mean per token)" };
        var showPrompt = new Option<bool>("--show-prompt") { Description = "print the k-shot prompt first" };
        var flags = new GenerationFlags();
        var command = new Command("fewshot", "Answer a query from k in-context examples (GPT-3 few-shot), or rank candidate answers by log-likelihood")
        {
            model, examples, query, k, instruction, candidates, sum, showPrompt,
        };
        flags.AddTo(command);
        command.SetAction(parse =>
        {
            var loaded = FewShot.LoadExamples(parse.GetValue(examples)!);
            using var generator = TextGenerator.Load(parse.GetValue(model)!);
            var fewShot = new FewShot(generator);
            string text = parse.GetValue(query)!;
            if (parse.GetValue(showPrompt))
            {
                output.WriteLine(fewShot.BuildPrompt(loaded, text, parse.GetValue(instruction), parse.GetValue(k)));
                output.WriteLine("---");
            }
            if (parse.GetValue(candidates) is { } list)
            {
                var ranking = parse.GetValue(sum) ? CandidateRanking.Sum : CandidateRanking.PerToken;
                var scores = fewShot.Score(loaded, text, list.Split('|'), parse.GetValue(instruction), parse.GetValue(k), ranking);
                foreach (var score in scores)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{score.Candidate}\tlog-likelihood {score.LogLikelihood:0.0000}\tper token {score.MeanLogLikelihood:0.0000}\t({score.TokenCount} tokens)"));
                }
                return 0;
            }
            var options = flags.Read(parse);
            options.Validate();
            var answer = fewShot.Answer(loaded, text, parse.GetValue(instruction), parse.GetValue(k), options);
            output.WriteLine(answer.Answer);
            return 0;
        });
        return command;
    }
}
