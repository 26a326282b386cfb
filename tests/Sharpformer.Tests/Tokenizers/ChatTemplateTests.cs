using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Tokenizers;

/// <summary>
/// The Jinja subset against renderings written out by hand from the templates' published formats (ChatML, Zephyr,
/// Llama-2) and Jinja's documented whitespace rules (HF renders with trim_blocks and lstrip_blocks).
/// </summary>
public sealed class ChatTemplateTests
{
    // HF's ChatML template (as in Qwen/OpenHermes tokenizer_config.json files).
    public const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    // HuggingFaceH4/zephyr-7b-beta's template, one tag per line as published.
    private const string Zephyr = """
        {% for message in messages %}
        {% if message['role'] == 'user' %}
        {{ '<|user|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'system' %}
        {{ '<|system|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'assistant' %}
        {{ '<|assistant|>\n'  + message['content'] + eos_token }}
        {% endif %}
        {% if loop.last and add_generation_prompt %}
        {{ '<|assistant|>' }}
        {% endif %}
        {% endfor %}
        """;

    // meta-llama/Llama-2-7b-chat-hf's template.
    private const string Llama2 =
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
        "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
        "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
        "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
        "{% else %}{% set content = message['content'] %}{% endif %}" +
        "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
        "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    [Fact]
    public void ChatMlWrapsEachTurnAndOpensTheAssistantTurn()
    {
        var template = new ChatTemplate(ChatMl);
        string text = template.Render([new("system", "You are kind."), new("user", "Hi")]);
        Assert.Equal("<|im_start|>system\nYou are kind.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", text);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n", template.Render([new("user", "Hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void ZephyrLinesLoseTheirBlockNewlinesButKeepOutputNewlines()
    {
        var template = new ChatTemplate(Zephyr, eosToken: "</s>");
        Assert.Equal("<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n", template.Render([new("system", "S"), new("user", "U")]));
        Assert.Equal("<|user|>\nU</s>\n<|assistant|>\nA</s>\n", template.Render([new("user", "U"), new("assistant", "A")], addGenerationPrompt: false));
    }

    [Fact]
    public void Llama2FoldsTheSystemPromptIntoTheFirstTurn()
    {
        var template = new ChatTemplate(Llama2, "<s>", "</s>");
        string text = template.Render([new("system", "Be brief."), new("user", "Hi"), new("assistant", "Hello! "), new("user", " Bye")]);
        Assert.Equal("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]", text);
        Assert.Equal("<s>[INST] Hi [/INST]", template.Render([new("user", "Hi")]));
    }

    [Fact]
    public void RaiseExceptionBecomesATemplateError()
    {
        var template = new ChatTemplate(Llama2, "<s>", "</s>");
        var error = Assert.Throws<TemplateException>(() => template.Render([new("user", "a"), new("user", "b")]));
        Assert.Equal("Conversation roles must alternate user/assistant/user/assistant/...", error.Message);
    }

    [Theory]
    [InlineData("{{ 'a' ~ 1 ~ none }}", "a1None")]
    [InlineData("{{ '  x ' | trim | upper }}|{{ 'AbC' | lower }}|{{ [1, 2, 3] | length }}", "X|abc|3")]
    [InlineData("{% if 'b' in 'abc' and not 'z' in 'abc' %}yes{% else %}no{% endif %}", "yes")]
    [InlineData("{% if 2 not in [1, 3] or false %}yes{% endif %}", "yes")]
    [InlineData("{% for x in [1, 2, 3] %}{% if loop.first %}[{% endif %}{{ x }}{% if not loop.last %},{% else %}]{% endif %}{% endfor %}", "[1,2,3]")]
    [InlineData("{% for x in [1, 2, 3, 4] if x % 2 == 0 %}{{ loop.index }}:{{ x }} {% endfor %}", "1:2 2:4 ")]
    [InlineData("{% for x in [] %}a{% else %}empty{% endfor %}", "empty")]
    [InlineData("{{ missing is defined }}-{{ missing }}-{{ none is none }}-{{ 'x' if missing else 'y' }}", "False--True-y")]
    [InlineData("{{ [1, 2, 3][::-1] }} {{ 'hello'[1:3] }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 1 + 2 * 3 }}", "[3, 2, 1] el 3 1 7")]
    [InlineData("{% set greeting = 'hi' %}{{ greeting + '!' }}{{ {'a': 1}['a'] }}", "hi!1")]
    [InlineData("a  {%- if true -%}  b  {%- endif -%}  c", "abc")]
    [InlineData("x\n    {% if true %}\n  y\n    {% endif %}\nz", "x\n  y\nz")] // lstrip_blocks + trim_blocks
    [InlineData("{{ 'a' }}\n{# note #}\nb", "a\nb")]
    [InlineData("{{ message.role }}{{ message['content'].strip() }}{{ message.missing is defined }}", "userhiFalse")]
    public void ExpressionsAndStatementsFollowJinja(string source, string expected)
    {
        var variables = new Dictionary<string, object?>
        {
            ["message"] = new Dictionary<string, object?> { ["role"] = "user", ["content"] = "  hi " },
        };
        Assert.Equal(expected, new JinjaTemplate(source).Render(variables));
    }

    [Theory]
    [InlineData("{% macro f() %}x{% endmacro %}", "{% macro %}")]
    [InlineData("{{ x | wordwrap }}", "'| wordwrap'")]
    [InlineData("{% if true %}a", "without {% endif %}")]
    [InlineData("{% for x in xs %}a", "without {% endfor %}")]
    [InlineData("{{ 1 + }}", "ends too early")]
    [InlineData("{{ 'a' < 1 }}", "cannot compare")]
    [InlineData("{{ 'unterminated }}", "unterminated string")]
    [InlineData("{{ x", "unclosed")]
    [InlineData("{% endif %}", "no open block")]
    public void UnsupportedOrBrokenSyntaxIsNamed(string source, string expectedFragment)
    {
        var error = Assert.Throws<TemplateException>(() => new JinjaTemplate(source).Render(new Dictionary<string, object?>()));
        Assert.Contains(expectedFragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFolderReadsTheTemplateAndSpecialTokens()
    {
        using var folder = new TemporaryFolder();
        Assert.Null(ChatTemplate.FromFolder(folder.Path));
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), """{"eos_token": "</s>"}""");
        Assert.Null(ChatTemplate.FromFolder(folder.Path));
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"),
            """{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}]}""");
        var template = ChatTemplate.FromFolder(folder.Path)!;
        Assert.Equal("<s>hi</s>", template.Render([new("user", "hi")]));
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), """{"chat_template": "{% while %}"}""");
        var error = Assert.Throws<TemplateException>(() => ChatTemplate.FromFolder(folder.Path));
        Assert.Contains("tokenizer_config.json", error.Message, StringComparison.Ordinal);
    }
}
