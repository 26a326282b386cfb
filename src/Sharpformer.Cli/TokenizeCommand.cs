using System.CommandLine;

namespace Sharpformer.Cli;

internal static class TokenizeCommand
{
    public static Command Create(TextWriter output) => new("tokenize", "Tokenize text (pending)");
}
