using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sharpformer.Tests.Training;
using Sharpformer.Training;

namespace Sharpformer.Tests.Cli;

public sealed class TrainCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-train-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Text()
    {
        string path = Path.Combine(_directory, "corpus.txt");
        File.WriteAllText(path, TrainerTests.SampleText());
        return path;
    }

    [Fact]
    public void TrainsATinyPresetWhoseLossFallsThenEvalAndGenerateReadTheCheckpoint()
    {
        string data = Text();
        string output = Path.Combine(_directory, "run");
        var (code, stdout, error) = CliTests.Run("train", "--objective", "clm", "--model-config", "gpt2-tiny", "--data", data, "--out", output,
            "--steps", "16", "--batch", "4", "--seq", "32", "--lr", "3e-3", "--warmup", "2", "--eval-every", "8", "--seed", "1");
        Assert.True(code == 0, error);
        Assert.Contains("training gpt2", stdout);
        Assert.Contains("eval step 16: held-out loss", stdout);

        var log = File.ReadAllLines(Path.Combine(output, Trainer.LogFileName)).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal(16, log.Count);
        double firstLoss = log[0].GetProperty("loss").GetDouble();
        double lastLoss = log[^3..].Average(line => line.GetProperty("loss").GetDouble());
        Assert.True(lastLoss < firstLoss - 1, $"training loss {firstLoss} → {lastLoss}");
        double[] evals = [.. log.Where(line => line.TryGetProperty("eval_loss", out _)).Select(line => line.GetProperty("eval_loss").GetDouble())];
        Assert.Equal(2, evals.Length);
        Assert.True(evals[1] < evals[0], $"held-out loss {evals[0]} → {evals[1]}");
        Assert.True(evals[1] < Math.Log(1000) - 1, $"held-out loss {evals[1]} should beat uniform (6.91)");

        // eval splits the data as train did, so it reproduces the last held-out loss.
        (code, stdout, error) = CliTests.Run("eval", "--model", output, "--data", data);
        Assert.True(code == 0, error);
        var match = Regex.Match(stdout, @"^held-out loss (\d+\.\d+)  perplexity (\d+\.\d+)");
        Assert.True(match.Success, stdout);
        Assert.Equal(evals[1], double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), 4);
        Assert.Equal(Math.Exp(evals[1]), double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), 1);

        (code, _, error) = CliTests.Run("generate", "Emma", "--model", output, "--max-new-tokens", "4", "--json");
        Assert.True(code == 0, error);
    }

    [Fact]
    public void ResumeContinuesARunInPlace()
    {
        string data = Text();
        string output = Path.Combine(_directory, "run");
        string[] common = ["--data", data, "--out", output, "--batch", "2", "--seq", "16", "--seed", "4"];
        var (code, _, error) = CliTests.Run(["train", "--objective", "clm", "--model-config", "gpt2-tiny", "--steps", "3", .. common]);
        Assert.True(code == 0, error);
        (code, var stdout, error) = CliTests.Run(["train", "--objective", "clm", "--resume", output, "--steps", "5", .. common]);
        Assert.True(code == 0, error);
        Assert.Contains($"resuming {output} at step 3", stdout);
        Assert.Equal([1, 2, 3, 4, 5], File.ReadAllLines(Path.Combine(output, Trainer.LogFileName)).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt32()));
    }

    public static TheoryData<string[], string> BadRuns => new()
    {
        { ["--objective", "plm", "--model-config", "gpt2-tiny"], "--objective plm trains a xlnet model; preset gpt2-tiny is model_type 'gpt2'" },
        { ["--objective", "lm", "--model-config", "gpt2-tiny"], "unknown --objective 'lm' (known: clm, mlm, denoise, span, plm, unilm)" },
        { ["--objective", "clm"], "give exactly one of --model-config NAME (a new model), --init DIR (start from a checkpoint) or --resume DIR (continue a run)" },
        { ["--objective", "clm", "--model-config", "gpt9"], "unknown --model-config 'gpt9'" },
        { ["--objective", "clm", "--model-config", "gpt2-tiny", "--seq", "4096"], "--seq 4096 is longer than the model's 128 positions" },
        { ["--objective", "clm", "--model-config", "gpt2-tiny", "--steps", "0"], "--steps must be positive (got 0)" },
        { ["--objective", "clm", "--model-config", "gpt2-tiny", "--resume", "."], "give exactly one of" },
    };

    [Theory]
    [MemberData(nameof(BadRuns))]
    public void BadOptionsGetOneErrorLine(string[] options, string expected)
    {
        var (code, _, error) = CliTests.Run(["train", "--data", Text(), "--out", Path.Combine(_directory, "out"), .. options]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains(expected, error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void BadDataIsNamedInTheError()
    {
        string missing = Path.Combine(_directory, "missing.txt");
        string binary = Path.Combine(_directory, "binary.txt");
        File.WriteAllBytes(binary, [1, 2, 0, 3]);
        string tiny = Path.Combine(_directory, "tiny.txt");
        File.WriteAllText(tiny, "Too short.");
        foreach (var (path, expected) in new[] { (missing, "no such file or folder"), (binary, "binary data (a NUL byte at offset 2), not text"), (tiny, "too short") })
        {
            var (code, _, error) = CliTests.Run("train", "--objective", "clm", "--model-config", "gpt2-tiny", "--data", path, "--out", Path.Combine(_directory, "out"));
            Assert.Equal(1, code);
            Assert.StartsWith($"error: {path}: {expected}", error);
        }
    }

    [Fact]
    public void RefusesToOverwriteAnotherRunsFolder()
    {
        string output = Path.Combine(_directory, "taken");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "config.json"), "{}");
        var (code, _, error) = CliTests.Run("train", "--objective", "clm", "--model-config", "gpt2-tiny", "--data", Text(), "--out", output);
        Assert.Equal(1, code);
        Assert.Equal($"error: --out {output} already holds files: choose another folder, or continue that run with --resume {output}", error.TrimEnd());
        Assert.Equal("{}", File.ReadAllText(Path.Combine(output, "config.json")));
    }

    [Fact]
    public void EvalNeedsATrainableCheckpoint()
    {
        var (code, _, error) = CliTests.Run("eval", "--model", Path.Combine(_directory, "none"), "--data", Text());
        Assert.Equal(1, code);
        Assert.Contains("not found", error);
    }
}
