namespace Sharpformer.IO;

/// <summary>A checkpoint or tensor file that cannot be used as it is; the message names the file and the problem.</summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string message) : base(message) { }

    public CheckpointException(string message, Exception inner) : base(message, inner) { }
}
