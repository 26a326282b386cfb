using System.Globalization;
using System.Text.RegularExpressions;
using Sharpformer.Tests.Training;

namespace Sharpformer.Tests.Cli;

/// <summary>`eval --dtype`: the inference forward scores the rows the training forward scores, and bad requests get one line.</summary>
public sealed class EvalDTypeCliTests
{
    private static readonly string[] Common = ["eval", "--model", CorpusTests.TinyTokenizerFolder, "--data", Fixture.File("corpus", "austen-sample.txt"), "--seq", "32"];

    private static (double Loss, string Targets, Match Line) Score(params string[] options)
    {
        var (code, stdout, error) = CliTests.Run([.. Common, .. options]);
        Assert.True(code == 0, error);
        var match = Regex.Match(stdout, @"^held-out loss (\d+\.\d+)  perplexity \d+\.\d+  \(([\d,]+ targets in \d+ rows of 32 tokens, clm)");
        Assert.True(match.Success, stdout);
        return (double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), match.Groups[2].Value, match);
    }

    [Fact]
    public void F32InferenceScoresTheSameTargetsAsTheTrainingForward()
    {
        var training = Score();
        var inference = Score("--dtype", "f32");
        Assert.Equal(training.Targets, inference.Targets);
        // Both printed to 4 decimals: equal within rounding.
        Assert.InRange(Math.Abs(training.Loss - inference.Loss), 0, 1.5e-4);
        Assert.Contains("f32 weights", inference.Line.Result("$'"), StringComparison.Ordinal);
    }

    [Fact]
    public void Int8ComparedWithF32PrintsBothLossesAndTheLargestLogitDifference()
    {
        var (code, stdout, error) = CliTests.Run([.. Common, "--dtype", "int8", "--compare-f32"]);
        Assert.True(code == 0, error);
        var match = Regex.Match(stdout, @"^held-out loss (\d+\.\d+) .*int8 weights\)  f32: loss (\d+\.\d+)  perplexity \d+\.\d+  loss change [-+]?\d+\.\d+  max \|logit - f32 logit\| (\d+\.\d+)");
        Assert.True(match.Success, stdout);
        double int8Loss = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        double f32Loss = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        double maxDifference = double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture);
        Assert.InRange(Math.Abs(int8Loss - f32Loss), 0, 0.01 * f32Loss);
        Assert.InRange(maxDifference, 1e-4, 1);
        Assert.InRange(Math.Abs(f32Loss - Score().Loss), 0, 1.5e-4);
    }

    public static TheoryData<string[], string> BadRequests => new()
    {
        { ["--dtype", "fp8"], "error: --dtype: unknown dtype 'fp8'; use one of f32, f32-packed, bf16, int8" },
        { ["--dtype", "int8", "--objective", "mlm"], "error: --dtype int8: low-precision eval covers causal LMs (--objective clm on gpt2, gpt_neo), not --objective mlm on model_type 'gpt2'" },
        { ["--compare-f32"], "error: --compare-f32 compares the weights --dtype names with f32; give --dtype bf16 or int8" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void BadRequestsGetOneErrorLine(string[] options, string expected)
    {
        var (code, _, error) = CliTests.Run([.. Common, .. options]);
        Assert.Equal(1, code);
        Assert.Equal(expected, error.TrimEnd());
    }
}
