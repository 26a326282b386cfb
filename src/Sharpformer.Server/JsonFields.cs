using System.Text.Json;

namespace Sharpformer.Server;

/// <summary>Reads typed fields from a request object; a wrong type is a 400 that names the field.</summary>
internal static class JsonFields
{
    public static async Task<JsonDocument> ReadObjectAsync(Microsoft.AspNetCore.Http.HttpRequest request, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException exception)
        {
            throw RequestException.Invalid(null, $"the body is not valid JSON: {exception.Message}");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw RequestException.Invalid(null, "the body must be a JSON object");
        }
        return document;
    }

    /// <summary>The field, or null when it is absent or JSON null (OpenAI treats null as "use the default").</summary>
    private static JsonElement? Find(JsonElement body, string name) =>
        body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static string? String(JsonElement body, string name) => Find(body, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        _ => throw RequestException.Invalid(name, $"{name} must be a string"),
    };

    public static int? Integer(JsonElement body, string name) => Find(body, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value when value.TryGetInt32(out int number) => number,
        _ => throw RequestException.Invalid(name, $"{name} must be an integer"),
    };

    public static long? Long(JsonElement body, string name) => Find(body, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value when value.TryGetInt64(out long number) => number,
        _ => throw RequestException.Invalid(name, $"{name} must be an integer"),
    };

    public static float? Number(JsonElement body, string name) => Find(body, name) switch
    {
        null => null,
        // Checked after the cast: 1e39 is a finite double but an infinite float.
        { ValueKind: JsonValueKind.Number } value when value.TryGetDouble(out double number) && float.IsFinite((float)number) => (float)number,
        _ => throw RequestException.Invalid(name, $"{name} must be a number"),
    };

    public static bool? Boolean(JsonElement body, string name) => Find(body, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw RequestException.Invalid(name, $"{name} must be a boolean"),
    };

    /// <summary>A string or an array of strings (prompt, stop, input); null when absent.</summary>
    public static string[]? Strings(JsonElement body, string name)
    {
        switch (Find(body, name))
        {
            case null:
                return null;
            case { ValueKind: JsonValueKind.String } value:
                return [value.GetString()!];
            case { ValueKind: JsonValueKind.Array } array when array.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String):
                return [.. array.EnumerateArray().Select(item => item.GetString()!)];
            default:
                throw RequestException.Invalid(name, $"{name} must be a string or an array of strings");
        }
    }
}
