using System.CommandLine;

namespace Sharpformer.Cli;

internal static class GenerateCommand
{
    public static Command Create(TextWriter output) => new("generate", "Generate text (pending)");
}
