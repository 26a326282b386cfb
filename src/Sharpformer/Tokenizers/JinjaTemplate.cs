using System.Globalization;
using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>A template the interpreter cannot run: unsupported syntax, a bad expression, or raise_exception(...).</summary>
public sealed class TemplateException(string message) : Exception(message);

/// <summary>
/// The subset of Jinja2 that Hugging Face chat templates use, rendered as HF renders them (trim_blocks and
/// lstrip_blocks on): text, {{ expr }}, {% if/elif/else %}, {% for x in xs [if cond] %} with loop.index/first/last,
/// {% set %}, {# comments #}, whitespace control (-), and expressions with literals, lists, dicts, attribute and
/// index access, slices, and/or/not, comparisons, in, + - * / % ~, the ternary if/else, tests (is defined, none,
/// string…), filters (trim, length, upper, lower, …), string methods (strip, startswith…) and raise_exception().
/// Anything else is a <see cref="TemplateException"/> naming it. Values: string, long, double, bool, null,
/// List&lt;object?&gt;, Dictionary&lt;string, object?&gt;.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly List<Node> _nodes;

    public JinjaTemplate(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var parser = new Parser(Lexer.Tokenize(source));
        _nodes = parser.ParseBody(out string? end);
        if (end is not null)
        {
            throw new TemplateException($"unexpected {{% {end} %}} with no open block");
        }
    }

    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var scope = new Dictionary<string, object?>(variables, StringComparer.Ordinal);
        var output = new StringBuilder();
        Execute(_nodes, scope, output);
        return output.ToString();
    }

    // ---- Nodes and execution ----

    private abstract record Node;

    private sealed record TextNode(string Text) : Node;

    private sealed record OutputNode(Expr Value) : Node;

    private sealed record IfNode(List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else) : Node;

    private sealed record ForNode(string[] Targets, Expr Items, Expr? Filter, List<Node> Body, List<Node>? Else) : Node;

    private sealed record SetNode(string Name, Expr Value) : Node;

    private static void Execute(List<Node> nodes, Dictionary<string, object?> scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case TextNode text:
                    output.Append(text.Text);
                    break;
                case OutputNode value:
                    output.Append(Values.ToText(value.Value.Evaluate(scope)));
                    break;
                case SetNode set:
                    scope[set.Name] = set.Value.Evaluate(scope);
                    break;
                case IfNode branches:
                    var chosen = branches.Branches.FirstOrDefault(branch => Values.Truthy(branch.Condition.Evaluate(scope))).Body ?? branches.Else;
                    if (chosen is not null)
                    {
                        Execute(chosen, scope, output);
                    }
                    break;
                case ForNode loop:
                    ExecuteFor(loop, scope, output);
                    break;
            }
        }
    }

    private static void ExecuteFor(ForNode loop, Dictionary<string, object?> scope, StringBuilder output)
    {
        var items = Values.Iterate(loop.Items.Evaluate(scope), "for loop").ToList();
        // Jinja scopes loop variables to the loop body: a {% set %} inside does not leak out (HF templates rely on it
        // being so only for 'loop' and the targets, which are restored here).
        var saved = loop.Targets.Append("loop").ToDictionary(name => name, name => scope.TryGetValue(name, out var value) ? value : Undefined.Value);
        if (loop.Filter is not null)
        {
            items = [.. items.Where(item =>
            {
                Bind(loop.Targets, item, scope);
                return Values.Truthy(loop.Filter.Evaluate(scope));
            })];
        }
        for (int index = 0; index < items.Count; index++)
        {
            Bind(loop.Targets, items[index], scope);
            scope["loop"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["index"] = (long)index + 1,
                ["index0"] = (long)index,
                ["revindex"] = (long)(items.Count - index),
                ["revindex0"] = (long)(items.Count - index - 1),
                ["first"] = index == 0,
                ["last"] = index == items.Count - 1,
                ["length"] = (long)items.Count,
                ["previtem"] = index > 0 ? items[index - 1] : Undefined.Value,
                ["nextitem"] = index < items.Count - 1 ? items[index + 1] : Undefined.Value,
            };
            Execute(loop.Body, scope, output);
        }
        if (items.Count == 0 && loop.Else is not null)
        {
            Execute(loop.Else, scope, output);
        }
        foreach (var (name, value) in saved)
        {
            if (value is Undefined)
            {
                scope.Remove(name);
            }
            else
            {
                scope[name] = value;
            }
        }
    }

    private static void Bind(string[] targets, object? item, Dictionary<string, object?> scope)
    {
        if (targets.Length == 1)
        {
            scope[targets[0]] = item;
            return;
        }
        var parts = Values.Iterate(item, "loop unpacking").ToList();
        if (parts.Count != targets.Length)
        {
            throw new TemplateException($"cannot unpack {parts.Count} values into {targets.Length} loop variables");
        }
        for (int i = 0; i < targets.Length; i++)
        {
            scope[targets[i]] = parts[i];
        }
    }

    // ---- Lexing: text and tags, with HF's trim_blocks / lstrip_blocks and the '-' markers ----

    private enum TokenKind { Text, Output, Statement }

    private readonly record struct Token(TokenKind Kind, string Body);

    private static class Lexer
    {
        public static List<Token> Tokenize(string source)
        {
            var tokens = new List<Token>();
            int position = 0;
            bool trimNextLeading = false, trimNextNewline = false;
            while (position < source.Length)
            {
                int open = source.IndexOf('{', position);
                while (open >= 0 && (open + 1 >= source.Length || source[open + 1] is not ('{' or '%' or '#')))
                {
                    open = source.IndexOf('{', open + 1);
                }
                string text = open < 0 ? source[position..] : source[position..open];
                if (trimNextNewline && text.StartsWith('\n'))
                {
                    text = text[1..]; // trim_blocks: the newline right after a block tag goes
                }
                if (trimNextLeading)
                {
                    text = text.TrimStart();
                }
                if (open < 0)
                {
                    AddText(tokens, text);
                    break;
                }
                char kind = source[open + 1];
                string close = kind switch { '{' => "}}", '%' => "%}", _ => "#}" };
                int end = source.IndexOf(close, open + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    throw new TemplateException($"unclosed {{{kind} at offset {open}");
                }
                string body = source[(open + 2)..end];
                bool trimBefore = body.StartsWith('-'), trimAfter = body.EndsWith('-');
                body = body.Trim('-', '+').Trim();
                if (trimBefore)
                {
                    text = text.TrimEnd();
                }
                else if (kind != '{')
                {
                    // lstrip_blocks: spaces and tabs between a line start and a block tag go.
                    int before = open - 1;
                    while (before >= position && source[before] is ' ' or '\t')
                    {
                        before--;
                    }
                    if (before < 0 || source[before] == '\n')
                    {
                        text = text[..Math.Max(0, text.Length - (open - before - 1))];
                    }
                }
                AddText(tokens, text);
                if (kind == '{')
                {
                    tokens.Add(new Token(TokenKind.Output, body));
                }
                else if (kind == '%')
                {
                    tokens.Add(new Token(TokenKind.Statement, body));
                }
                position = end + 2;
                trimNextLeading = trimAfter;
                trimNextNewline = kind != '{';
            }
            return tokens;
        }

        private static void AddText(List<Token> tokens, string text)
        {
            if (text.Length > 0)
            {
                tokens.Add(new Token(TokenKind.Text, text));
            }
        }
    }

    // ---- Parsing statements ----

    private sealed class Parser(List<Token> tokens)
    {
        private int _next;

        /// <summary>Nodes up to an end/else tag (returned in <paramref name="end"/>, with its body) or the end of input.</summary>
        public List<Node> ParseBody(out string? end)
        {
            var nodes = new List<Node>();
            while (_next < tokens.Count)
            {
                var token = tokens[_next++];
                switch (token.Kind)
                {
                    case TokenKind.Text:
                        nodes.Add(new TextNode(token.Body));
                        break;
                    case TokenKind.Output:
                        nodes.Add(new OutputNode(ExpressionParser.Parse(token.Body)));
                        break;
                    default:
                        string keyword = token.Body.Split((char[])[' ', '\t', '\n', '('], 2)[0];
                        string rest = token.Body[keyword.Length..].Trim();
                        switch (keyword)
                        {
                            case "if":
                                nodes.Add(ParseIf(rest));
                                break;
                            case "for":
                                nodes.Add(ParseFor(rest));
                                break;
                            case "set":
                                int equals = rest.IndexOf('=', StringComparison.Ordinal);
                                if (equals < 0)
                                {
                                    throw new TemplateException($"{{% set {rest} %}}: only 'set name = value' is supported");
                                }
                                string name = rest[..equals].Trim();
                                if (!ExpressionParser.IsName(name))
                                {
                                    throw new TemplateException($"{{% set {name} = … %}}: only a plain variable name can be set");
                                }
                                nodes.Add(new SetNode(name, ExpressionParser.Parse(rest[(equals + 1)..])));
                                break;
                            case "elif" or "else" or "endif" or "endfor":
                                end = token.Body;
                                return nodes;
                            default:
                                throw new TemplateException($"unsupported template statement {{% {keyword} %}}");
                        }
                        break;
                }
            }
            end = null;
            return nodes;
        }

        private IfNode ParseIf(string? condition)
        {
            var branches = new List<(Expr, List<Node>)>();
            List<Node>? otherwise = null;
            while (true)
            {
                var body = ParseBody(out string? end);
                if (condition is not null)
                {
                    branches.Add((ExpressionParser.Parse(condition), body));
                }
                else
                {
                    otherwise = body;
                }
                switch (end)
                {
                    case null:
                        throw new TemplateException("{% if %} without {% endif %}");
                    case "endif":
                        return new IfNode(branches, otherwise);
                    case "else" when condition is not null:
                        condition = null;
                        break;
                    default:
                        if (end.StartsWith("elif", StringComparison.Ordinal) && condition is not null)
                        {
                            condition = end[4..].Trim();
                            break;
                        }
                        throw new TemplateException($"unexpected {{% {end} %}} inside {{% if %}}");
                }
            }
        }

        private ForNode ParseFor(string header)
        {
            int inAt = header.IndexOf(" in ", StringComparison.Ordinal);
            if (inAt < 0)
            {
                throw new TemplateException($"{{% for {header} %}}: expected 'for name in items'");
            }
            string[] targets = [.. header[..inAt].Split(',').Select(name => name.Trim())];
            if (!targets.All(ExpressionParser.IsName))
            {
                throw new TemplateException($"{{% for {header} %}}: loop variables must be names");
            }
            var (items, filter) = ExpressionParser.ParseLoopSource(header[(inAt + 4)..]);
            var body = ParseBody(out string? end);
            List<Node>? otherwise = null;
            if (end == "else")
            {
                otherwise = ParseBody(out end);
            }
            if (end != "endfor")
            {
                throw new TemplateException(end is null ? "{% for %} without {% endfor %}" : $"unexpected {{% {end} %}} inside {{% for %}}");
            }
            return new ForNode(targets, items, filter, body, otherwise);
        }
    }
}
