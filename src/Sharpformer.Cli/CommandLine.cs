using System.CommandLine;
using System.CommandLine.Invocation;
using Sharpformer.IO;

namespace Sharpformer.Cli;

/// <summary>The `sharpformer` command: verbs, shared options, and one readable error line with exit code 1.</summary>
public static class CommandLine
{
    /// <summary>The model used when --model is not given: models/austen-gpt2 shipped beside the binary (or SHARPFORMER_MODEL).</summary>
    public static string DefaultModel =>
        Environment.GetEnvironmentVariable("SHARPFORMER_MODEL") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Path.Combine(AppContext.BaseDirectory, "models", "austen-gpt2");

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("Sharpformer: GPT-2 and friends in pure C#. Load Hugging Face checkpoints, generate, inspect, train.");
        root.Add(GenerateCommand.Create(output));
        root.Add(Text2TextCommand.Create(output));
        root.Add(TokenizeCommand.Create(output));
        root.Add(ForwardCommand.Create(output));
        root.Add(InfoCommand.Create(output));
        root.Add(FewShotCommand.Create(output));
        root.Add(FillMaskCommand.Create(output));
        root.Add(EmbedCommand.Create(output, error));
        root.Add(ConvertCommand.Create(output));
        root.Add(ServeCommand.Create(output));
        root.Add(TrainCommand.Create(output));
        root.Add(EvalCommand.Create(output));
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction parseError)
        {
            parseError.ShowHelp = false;
            parseError.ShowTypoCorrections = true;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception exception) when (exception is CheckpointException or ArgumentException or InvalidOperationException
            or FormatException or Tokenizers.TokenizerException or IOException or UnauthorizedAccessException or NotSupportedException or OverflowException)
        {
            error.WriteLine($"error: {Describe(exception)}");
            return 1;
        }
    }

    /// <summary>One line for the user: option names as the command spells them, no "(Parameter ...)" suffix.</summary>
    internal static string Describe(Exception exception)
    {
        string message = exception.Message.ReplaceLineEndings(" ");
        if (exception is ArgumentException { ParamName: { Length: > 0 } name })
        {
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
            if (message.StartsWith(name + " ", StringComparison.Ordinal) && char.IsUpper(name[0]))
            {
                message = "--" + KebabCase(name) + message[name.Length..];
            }
        }
        return message;
    }

    private static string KebabCase(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    public static Option<string> ModelOption(string description = "model folder or Hugging Face model id (default: the bundled model)") =>
        new("--model", "-m") { Description = description, DefaultValueFactory = _ => DefaultModel };

    /// <summary>--dtype f32|f32-packed|bf16|int8: how linear weights are stored for inference (f32 = as loaded).</summary>
    public static Option<string> DTypeOption() =>
        new("--dtype") { Description = "weights for inference: f32 (as loaded, memory-mapped), f32-packed (f32 copied into decode order: faster decode), bf16, or int8 (per-channel, weight-only)", DefaultValueFactory = _ => "f32" };

    /// <summary>The <see cref="Kernels.WeightType"/> a --dtype value names; a bad one gets an error listing the choices.</summary>
    public static Kernels.WeightType ReadDType(ParseResult parse, Option<string> option)
    {
        ArgumentNullException.ThrowIfNull(parse);
        try
        {
            return Kernels.WeightTypes.Parse(parse.GetValue(option));
        }
        catch (ArgumentException exception)
        {
            throw new ArgumentException($"--dtype: {exception.Message.Split(" (Parameter")[0]}", exception);
        }
    }

    public static Option<bool> JsonOption() => new("--json") { Description = "print one JSON object instead of text" };

    /// <summary>Parses "1,2,3" (and "1,2;3,4" for batches) into rows of ids, naming a bad value.</summary>
    public static int[][] ParseIdRows(string text, string optionName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rows = text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (rows.Length == 0)
        {
            throw new ArgumentException($"{optionName}: no ids given");
        }
        return rows.Select(row => row.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(part =>
            int.TryParse(part, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int id) && id >= 0
                ? id
                : throw new ArgumentException($"{optionName}: '{part}' is not a token id (a non-negative integer)")).ToArray()).ToArray();
    }
}
