namespace Sharpformer.Server;

/// <summary>A request the server refuses: the status code and OpenAI's error fields, written by the error middleware.</summary>
public sealed class RequestException(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public static RequestException Invalid(string? param, string message, string? code = null) => new(400, message, param, code);
}
