namespace Sharpformer.Tokenizers;

/// <summary>A tokenizer file that cannot be used as it is; the message names the file and the problem.</summary>
public sealed class TokenizerException : Exception
{
    public TokenizerException(string message) : base(message) { }

    public TokenizerException(string message, Exception inner) : base(message, inner) { }
}
