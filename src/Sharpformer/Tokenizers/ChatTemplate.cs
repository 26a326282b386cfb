using System.Text.Json;

namespace Sharpformer.Tokenizers;

/// <summary>One chat turn: role (system, user, assistant…) and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A model's chat template (tokenizer_config.json "chat_template", HF's Jinja2 source) with the special tokens it
/// may name: renders messages into the prompt text the model was tuned on, as HF apply_chat_template(tokenize=False).
/// </summary>
public sealed class ChatTemplate
{
    private readonly JinjaTemplate _template;

    public ChatTemplate(string source, string? bosToken = null, string? eosToken = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        Source = source;
        BosToken = bosToken;
        EosToken = eosToken;
        _template = new JinjaTemplate(source);
    }

    public string Source { get; }

    public string? BosToken { get; }

    public string? EosToken { get; }

    /// <summary>
    /// The template of a model folder's tokenizer_config.json, or null when it has none. A list of named
    /// templates (HF's format for several) gives the one named "default". Bad JSON or template syntax throws.
    /// </summary>
    public static ChatTemplate? FromFolder(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path))
        {
            return null;
        }
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        if (!root.TryGetProperty("chat_template", out var template) || template.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        string? source = template.ValueKind switch
        {
            JsonValueKind.String => template.GetString(),
            JsonValueKind.Array => template.EnumerateArray()
                .Where(entry => entry.TryGetProperty("name", out var name) && name.GetString() == "default")
                .Select(entry => entry.GetProperty("template").GetString())
                .FirstOrDefault(),
            _ => null,
        };
        if (source is null)
        {
            throw new TemplateException($"{path}: chat_template must be a string or a list holding one named \"default\"");
        }
        try
        {
            return new ChatTemplate(source, TokenText(root, "bos_token"), TokenText(root, "eos_token"));
        }
        catch (TemplateException exception)
        {
            throw new TemplateException($"{path}: {exception.Message}");
        }
    }

    /// <summary>The prompt text for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> it ends where the assistant's reply begins.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.Select(message => (object?)new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["role"] = message.Role,
            ["content"] = message.Content,
        }).ToList();
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = list,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = BosToken ?? "",
            ["eos_token"] = EosToken ?? "",
        };
        return _template.Render(variables);
    }

    /// <summary>A special token as tokenizer_config.json writes it: a string or an AddedToken object {"content": …}.</summary>
    private static string? TokenText(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var token) ? null
        : token.ValueKind == JsonValueKind.String ? token.GetString()
        : token.ValueKind == JsonValueKind.Object && token.TryGetProperty("content", out var content) ? content.GetString()
        : null;
}
