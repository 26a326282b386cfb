using System.Globalization;
using System.Text;

namespace Sharpformer.Tokenizers;

/// <summary>Jinja's undefined value: renders as "", is falsy, iterates as empty; 'is defined' tells it apart.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Value = new();

    private Undefined() { }
}

/// <summary>A parsed expression, evaluated against the render scope.</summary>
internal abstract class Expr
{
    public abstract object? Evaluate(Dictionary<string, object?> scope);
}

/// <summary>Jinja's expression grammar (precedence low → high): ternary, or, and, not, comparisons/in/is, ~, + -, * / % //, unary -, postfix (.name [i] (args) | filter).</summary>
internal sealed class ExpressionParser
{
    private readonly List<string> _tokens;
    private readonly string _source;
    private int _next;

    private ExpressionParser(string source)
    {
        _source = source;
        _tokens = Split(source);
    }

    public static bool IsName(string text) =>
        text.Length > 0 && (char.IsLetter(text[0]) || text[0] == '_') && text.All(c => char.IsLetterOrDigit(c) || c == '_');

    public static Expr Parse(string source)
    {
        var parser = new ExpressionParser(source);
        var expression = parser.Ternary();
        parser.ExpectEnd();
        return expression;
    }

    /// <summary>The source of a for loop: "items" or "items if condition".</summary>
    public static (Expr Items, Expr? Filter) ParseLoopSource(string source)
    {
        var parser = new ExpressionParser(source);
        var items = parser.Or();
        Expr? filter = parser.Accept("if") ? parser.Or() : null;
        parser.ExpectEnd();
        return (items, filter);
    }

    private void ExpectEnd()
    {
        if (_next < _tokens.Count)
        {
            throw new TemplateException($"unexpected '{_tokens[_next]}' in expression '{_source}'");
        }
    }

    private string? Peek => _next < _tokens.Count ? _tokens[_next] : null;

    private bool Accept(string token)
    {
        if (Peek == token)
        {
            _next++;
            return true;
        }
        return false;
    }

    private void Expect(string token)
    {
        if (!Accept(token))
        {
            throw new TemplateException($"expected '{token}' in expression '{_source}'" + (Peek is { } found ? $", found '{found}'" : ""));
        }
    }

    private Expr Ternary()
    {
        var value = Or();
        if (Accept("if"))
        {
            var condition = Or();
            Expr otherwise = Accept("else") ? Ternary() : new Literal(Undefined.Value);
            return new Lambda(scope => Values.Truthy(condition.Evaluate(scope)) ? value.Evaluate(scope) : otherwise.Evaluate(scope));
        }
        return value;
    }

    private Expr Or()
    {
        var left = And();
        while (Accept("or"))
        {
            var l = left;
            var right = And();
            left = new Lambda(scope => l.Evaluate(scope) is var a && Values.Truthy(a) ? a : right.Evaluate(scope));
        }
        return left;
    }

    private Expr And()
    {
        var left = Not();
        while (Accept("and"))
        {
            var l = left;
            var right = Not();
            left = new Lambda(scope => l.Evaluate(scope) is var a && !Values.Truthy(a) ? a : right.Evaluate(scope));
        }
        return left;
    }

    private Expr Not()
    {
        if (Accept("not"))
        {
            var operand = Not();
            return new Lambda(scope => !Values.Truthy(operand.Evaluate(scope)));
        }
        return Comparison();
    }

    private Expr Comparison()
    {
        var left = Concat();
        while (true)
        {
            var l = left;
            if (Peek is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                string op = _tokens[_next++];
                var right = Concat();
                left = new Lambda(scope => Values.Compare(op, l.Evaluate(scope), right.Evaluate(scope)));
            }
            else if (Accept("in"))
            {
                var right = Concat();
                left = new Lambda(scope => Values.Contains(right.Evaluate(scope), l.Evaluate(scope)));
            }
            else if (Peek == "not" && _next + 1 < _tokens.Count && _tokens[_next + 1] == "in")
            {
                _next += 2;
                var right = Concat();
                left = new Lambda(scope => !Values.Contains(right.Evaluate(scope), l.Evaluate(scope)));
            }
            else if (Accept("is"))
            {
                bool negate = Accept("not");
                string test = Name("a test name after 'is'");
                left = new Lambda(scope => Values.Test(test, l.Evaluate(scope)) != negate);
            }
            else
            {
                return left;
            }
        }
    }

    private Expr Concat()
    {
        var left = Additive();
        while (Accept("~"))
        {
            var l = left;
            var right = Additive();
            left = new Lambda(scope => Values.ToText(l.Evaluate(scope)) + Values.ToText(right.Evaluate(scope)));
        }
        return left;
    }

    private Expr Additive()
    {
        var left = Multiplicative();
        while (Peek is "+" or "-")
        {
            string op = _tokens[_next++];
            var l = left;
            var right = Multiplicative();
            left = new Lambda(scope => Values.Arithmetic(op, l.Evaluate(scope), right.Evaluate(scope)));
        }
        return left;
    }

    private Expr Multiplicative()
    {
        var left = Unary();
        while (Peek is "*" or "/" or "%" or "//")
        {
            string op = _tokens[_next++];
            var l = left;
            var right = Unary();
            left = new Lambda(scope => Values.Arithmetic(op, l.Evaluate(scope), right.Evaluate(scope)));
        }
        return left;
    }

    private Expr Unary()
    {
        if (Accept("-"))
        {
            var operand = Unary();
            return new Lambda(scope => Values.Arithmetic("-", 0L, operand.Evaluate(scope)));
        }
        return Postfix(Primary());
    }

    private Expr Postfix(Expr target)
    {
        while (true)
        {
            var t = target;
            if (Accept("."))
            {
                string name = Name("an attribute name after '.'");
                if (Accept("("))
                {
                    var arguments = Arguments();
                    target = new Lambda(scope => Values.CallMethod(t.Evaluate(scope), name, [.. arguments.Select(a => a.Evaluate(scope))]));
                }
                else
                {
                    target = new Lambda(scope => Values.Member(t.Evaluate(scope), name));
                }
            }
            else if (Accept("["))
            {
                target = Subscript(t);
            }
            else if (Accept("|"))
            {
                string filter = Name("a filter name after '|'");
                var arguments = Accept("(") ? Arguments() : [];
                target = new Lambda(scope => Values.Filter(filter, t.Evaluate(scope), [.. arguments.Select(a => a.Evaluate(scope))]));
            }
            else
            {
                return target;
            }
        }
    }

    private Lambda Subscript(Expr target)
    {
        Expr? start = Peek is ":" ? null : Ternary();
        if (Accept("]"))
        {
            return new Lambda(scope => Values.Index(target.Evaluate(scope), start!.Evaluate(scope)));
        }
        Expect(":");
        Expr? stop = Peek is ":" or "]" ? null : Ternary();
        Expr? step = Accept(":") && Peek != "]" ? Ternary() : null;
        Expect("]");
        return new Lambda(scope => Values.Slice(target.Evaluate(scope), start?.Evaluate(scope), stop?.Evaluate(scope), step?.Evaluate(scope)));
    }

    private List<Expr> Arguments()
    {
        var arguments = new List<Expr>();
        while (!Accept(")"))
        {
            if (arguments.Count > 0)
            {
                Expect(",");
            }
            if (_next + 1 < _tokens.Count && IsName(_tokens[_next]) && _tokens[_next + 1] == "=")
            {
                throw new TemplateException($"keyword arguments ({_tokens[_next]}=…) are not supported in '{_source}'");
            }
            arguments.Add(Ternary());
        }
        return arguments;
    }

    private Expr Primary()
    {
        string token = Peek ?? throw new TemplateException($"expression '{_source}' ends too early");
        _next++;
        switch (token)
        {
            case "(":
                var inner = Ternary();
                Expect(")");
                return inner;
            case "[":
                var items = new List<Expr>();
                while (!Accept("]"))
                {
                    if (items.Count > 0)
                    {
                        Expect(",");
                    }
                    items.Add(Ternary());
                }
                return new Lambda(scope => items.Select(item => item.Evaluate(scope)).ToList());
            case "{":
                var entries = new List<(Expr Key, Expr Value)>();
                while (!Accept("}"))
                {
                    if (entries.Count > 0)
                    {
                        Expect(",");
                    }
                    var key = Ternary();
                    Expect(":");
                    entries.Add((key, Ternary()));
                }
                return new Lambda(scope => entries.ToDictionary(entry => Values.ToText(entry.Key.Evaluate(scope)), entry => entry.Value.Evaluate(scope), StringComparer.Ordinal));
            case "true" or "True":
                return new Literal(true);
            case "false" or "False":
                return new Literal(false);
            case "none" or "None":
                return new Literal(null);
        }
        if (token[0] is '\'' or '"')
        {
            return new Literal(Unescape(token[1..^1]));
        }
        if (char.IsDigit(token[0]))
        {
            return token.Contains('.', StringComparison.Ordinal)
                ? new Literal(double.Parse(token, CultureInfo.InvariantCulture))
                : new Literal(long.Parse(token, CultureInfo.InvariantCulture));
        }
        if (IsName(token))
        {
            if (Accept("("))
            {
                var arguments = Arguments();
                return new Lambda(scope => Values.CallFunction(token, [.. arguments.Select(a => a.Evaluate(scope))]));
            }
            return new Lambda(scope => scope.TryGetValue(token, out var value) ? value : Undefined.Value);
        }
        throw new TemplateException($"unexpected '{token}' in expression '{_source}'");
    }

    private string Name(string what)
    {
        string? token = Peek;
        if (token is null || !IsName(token))
        {
            throw new TemplateException($"expected {what} in expression '{_source}'");
        }
        _next++;
        return token;
    }

    private static string Unescape(string text)
    {
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\' || i + 1 == text.Length)
            {
                result.Append(text[i]);
                continue;
            }
            char escaped = text[++i];
            result.Append(escaped switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => escaped });
        }
        return result.ToString();
    }

    private static readonly string[] Operators = ["//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "="];

    private static List<string> Split(string source)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < source.Length)
        {
            char c = source[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '\'' or '"')
            {
                int end = i + 1;
                while (end < source.Length && source[end] != c)
                {
                    end += source[end] == '\\' ? 2 : 1;
                }
                if (end >= source.Length)
                {
                    throw new TemplateException($"unterminated string in expression '{source}'");
                }
                tokens.Add(source[i..(end + 1)]);
                i = end + 1;
            }
            else if (char.IsDigit(c))
            {
                int end = i;
                while (end < source.Length && (char.IsDigit(source[end]) || (source[end] == '.' && end + 1 < source.Length && char.IsDigit(source[end + 1]))))
                {
                    end++;
                }
                tokens.Add(source[i..end]);
                i = end;
            }
            else if (char.IsLetter(c) || c == '_')
            {
                int end = i;
                while (end < source.Length && (char.IsLetterOrDigit(source[end]) || source[end] == '_'))
                {
                    end++;
                }
                tokens.Add(source[i..end]);
                i = end;
            }
            else
            {
                string op = Operators.FirstOrDefault(candidate => string.CompareOrdinal(source, i, candidate, 0, candidate.Length) == 0)
                    ?? throw new TemplateException($"unexpected character '{c}' in expression '{source}'");
                tokens.Add(op);
                i += op.Length;
            }
        }
        return tokens;
    }

    private sealed class Literal(object? value) : Expr
    {
        public override object? Evaluate(Dictionary<string, object?> scope) => value;
    }

    private sealed class Lambda(Func<Dictionary<string, object?>, object?> evaluate) : Expr
    {
        public override object? Evaluate(Dictionary<string, object?> scope) => evaluate(scope);
    }
}

/// <summary>Python/Jinja semantics over the template's values.</summary>
internal static class Values
{
    public static bool Truthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long n => n != 0,
        double d => d != 0,
        string s => s.Length > 0,
        System.Collections.ICollection c => c.Count > 0,
        _ => true,
    };

    public static string ToText(object? value) => value switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        string s => s,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        Dictionary<string, object?> map => "{" + string.Join(", ", map.Select(entry => Repr(entry.Key) + ": " + Repr(entry.Value))) + "}",
        _ => value.ToString() ?? "",
    };

    private static string Repr(object? value) => value is string s ? "'" + s.Replace("'", "\\'", StringComparison.Ordinal) + "'" : ToText(value);

    public static IEnumerable<object?> Iterate(object? value, string context) => value switch
    {
        Undefined or null => [],
        string s => s.Select(c => (object?)c.ToString()),
        List<object?> list => list,
        Dictionary<string, object?> map => map.Keys,
        _ => throw new TemplateException($"{context}: cannot iterate over {TypeName(value)}"),
    };

    public static bool Compare(string op, object? left, object? right)
    {
        if (op is "==" or "!=")
        {
            return Equal(left, right) == (op == "==");
        }
        int order = (left, right) switch
        {
            (string a, string b) => string.CompareOrdinal(a, b),
            _ when IsNumber(left) && IsNumber(right) => ToDouble(left).CompareTo(ToDouble(right)),
            _ => throw new TemplateException($"cannot compare {TypeName(left)} {op} {TypeName(right)}"),
        };
        return op switch { "<" => order < 0, ">" => order > 0, "<=" => order <= 0, _ => order >= 0 };
    }

    private static bool Equal(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return ToDouble(left) == ToDouble(right);
        }
        if (left is List<object?> a && right is List<object?> b)
        {
            return a.Count == b.Count && a.Zip(b).All(pair => Equal(pair.First, pair.Second));
        }
        return Equals(left, right) || (left is Undefined && right is Undefined);
    }

    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string part ? s.Contains(part, StringComparison.Ordinal) : throw new TemplateException($"'in <string>' needs a string, not {TypeName(item)}"),
        List<object?> list => list.Any(element => Equal(element, item)),
        Dictionary<string, object?> map => item is string key && map.ContainsKey(key),
        Undefined or null => false,
        _ => throw new TemplateException($"'in' needs a string, list or mapping, not {TypeName(container)}"),
    };

    public static bool Test(string test, object? value) => test switch
    {
        "defined" => value is not Undefined,
        "undefined" => value is Undefined,
        "none" => value is null,
        "string" => value is string,
        "number" => IsNumber(value),
        "integer" => value is long,
        "boolean" => value is bool,
        "mapping" => value is Dictionary<string, object?>,
        "sequence" or "iterable" => value is string or List<object?> or Dictionary<string, object?>,
        "true" => value is true,
        "false" => value is false,
        "even" => value is long n && n % 2 == 0,
        "odd" => value is long n && n % 2 != 0,
        _ => throw new TemplateException($"unsupported test 'is {test}'"),
    };

    public static object? Arithmetic(string op, object? left, object? right)
    {
        if (op == "+" && left is string a && right is string b)
        {
            return a + b;
        }
        if (op == "+" && left is List<object?> x && right is List<object?> y)
        {
            return x.Concat(y).ToList();
        }
        if (op == "*" && left is string text && right is long times)
        {
            return string.Concat(Enumerable.Repeat(text, (int)Math.Max(0, times)));
        }
        if (!IsNumber(left) || !IsNumber(right))
        {
            throw new TemplateException($"cannot apply '{op}' to {TypeName(left)} and {TypeName(right)}");
        }
        if (left is long l && right is long r && op != "/")
        {
            return op switch
            {
                "+" => l + r,
                "-" => l - r,
                "*" => l * r,
                "//" => r == 0 ? throw new TemplateException("division by zero") : (long)Math.Floor((double)l / r),
                _ => r == 0 ? throw new TemplateException("modulo by zero") : ((l % r) + r) % r,
            };
        }
        double dl = ToDouble(left), dr = ToDouble(right);
        return op switch
        {
            "+" => dl + dr,
            "-" => dl - dr,
            "*" => dl * dr,
            "/" => dl / dr,
            "//" => Math.Floor(dl / dr),
            _ => dl - dr * Math.Floor(dl / dr),
        };
    }

    /// <summary>obj.name: a mapping's key (Jinja's getattr falls back to getitem), else undefined.</summary>
    public static object? Member(object? target, string name) => target switch
    {
        Dictionary<string, object?> map => map.TryGetValue(name, out var value) ? value : Undefined.Value,
        Undefined => throw new TemplateException($"cannot read .{name} of an undefined value"),
        _ => Undefined.Value,
    };

    public static object? Index(object? target, object? index)
    {
        switch (target)
        {
            case Dictionary<string, object?> map:
                return index is string key && map.TryGetValue(key, out var value) ? value : Undefined.Value;
            case List<object?> list when index is long i:
                long at = i < 0 ? list.Count + i : i;
                return at >= 0 && at < list.Count ? list[(int)at] : Undefined.Value;
            case string s when index is long i:
                long position = i < 0 ? s.Length + i : i;
                return position >= 0 && position < s.Length ? s[(int)position].ToString() : Undefined.Value;
            case Undefined:
                throw new TemplateException($"cannot index an undefined value with [{ToText(index)}]");
            default:
                throw new TemplateException($"cannot index {TypeName(target)} with {TypeName(index)}");
        }
    }

    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        long stride = step is long st ? st : 1;
        if (stride == 0)
        {
            throw new TemplateException("slice step cannot be zero");
        }
        var items = target switch
        {
            List<object?> list => list,
            string s => s.Select(c => (object?)c.ToString()).ToList(),
            _ => throw new TemplateException($"cannot slice {TypeName(target)}"),
        };
        int count = items.Count;
        long Clamp(object? bound, long fallback)
        {
            if (bound is not long b)
            {
                return fallback;
            }
            long value = b < 0 ? b + count : b;
            return stride > 0 ? Math.Clamp(value, 0, count) : Math.Clamp(value, -1, count - 1);
        }
        long from = Clamp(start, stride > 0 ? 0 : count - 1), to = Clamp(stop, stride > 0 ? count : -1);
        var result = new List<object?>();
        for (long i = from; stride > 0 ? i < to : i > to; i += stride)
        {
            result.Add(items[(int)i]);
        }
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    public static object? Filter(string name, object? value, object?[] arguments) => name switch
    {
        "trim" => ToText(value).Trim(),
        "upper" => ToText(value).ToUpperInvariant(),
        "lower" => ToText(value).ToLowerInvariant(),
        "capitalize" => ToText(value) is { Length: > 0 } s ? char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant() : "",
        "length" or "count" => value switch
        {
            string s => (long)s.Length,
            System.Collections.ICollection c => (long)c.Count,
            Undefined => 0L,
            _ => throw new TemplateException($"{TypeName(value)} has no length"),
        },
        "string" => ToText(value),
        "int" => value switch { long n => n, double d => (long)d, string s when long.TryParse(s, CultureInfo.InvariantCulture, out long n) => n, _ => 0L },
        "default" or "d" => value is Undefined ? (arguments.Length > 0 ? arguments[0] : "") : value,
        "first" => Iterate(value, "first").FirstOrDefault(Undefined.Value),
        "last" => Iterate(value, "last").LastOrDefault(Undefined.Value),
        "reverse" => value is string s ? new string([.. s.Reverse()]) : Iterate(value, "reverse").Reverse().ToList(),
        "join" => string.Join(arguments.Length > 0 ? ToText(arguments[0]) : "", Iterate(value, "join").Select(ToText)),
        "list" => Iterate(value, "list").ToList(),
        "tojson" => ToJson(value),
        _ => throw new TemplateException($"unsupported filter '| {name}'"),
    };

    public static object? CallMethod(object? target, string name, object?[] arguments)
    {
        if (target is string s)
        {
            string? chars = arguments.Length > 0 && arguments[0] is string c ? c : null;
            return name switch
            {
                "strip" => chars is null ? s.Trim() : s.Trim(chars.ToCharArray()),
                "lstrip" => chars is null ? s.TrimStart() : s.TrimStart(chars.ToCharArray()),
                "rstrip" => chars is null ? s.TrimEnd() : s.TrimEnd(chars.ToCharArray()),
                "upper" => s.ToUpperInvariant(),
                "lower" => s.ToLowerInvariant(),
                "startswith" => chars is not null && s.StartsWith(chars, StringComparison.Ordinal),
                "endswith" => chars is not null && s.EndsWith(chars, StringComparison.Ordinal),
                "split" => (chars is null ? s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) : s.Split(chars)).Select(part => (object?)part).ToList(),
                "replace" when arguments.Length == 2 => s.Replace(ToText(arguments[0]), ToText(arguments[1]), StringComparison.Ordinal),
                _ => throw new TemplateException($"unsupported string method .{name}()"),
            };
        }
        if (target is Dictionary<string, object?> map)
        {
            return name switch
            {
                "items" => map.Select(entry => (object?)new List<object?> { entry.Key, entry.Value }).ToList(),
                "keys" => map.Keys.Select(key => (object?)key).ToList(),
                "values" => map.Values.ToList(),
                "get" when arguments.Length >= 1 => map.TryGetValue(ToText(arguments[0]), out var value) ? value : arguments.Length > 1 ? arguments[1] : null,
                _ => throw new TemplateException($"unsupported mapping method .{name}()"),
            };
        }
        throw new TemplateException($"{TypeName(target)} has no method .{name}()");
    }

    public static object? CallFunction(string name, object?[] arguments) => name switch
    {
        "raise_exception" => throw new TemplateException(arguments.Length > 0 ? ToText(arguments[0]) : "the template raised an exception"),
        "range" => arguments switch
        {
            [long stop] => Range(0, stop),
            [long start, long stop] => Range(start, stop),
            _ => throw new TemplateException("range() takes one or two integers here"),
        },
        _ => throw new TemplateException($"unsupported function {name}()"),
    };

    private static List<object?> Range(long start, long stop) => [.. Enumerable.Range((int)start, (int)Math.Max(0, stop - start)).Select(i => (object?)(long)i)];

    private static string ToJson(object? value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            WriteJson(writer, value);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteJson(System.Text.Json.Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null or Undefined:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case long n:
                writer.WriteNumberValue(n);
                break;
            case double d:
                writer.WriteNumberValue(d);
                break;
            case List<object?> list:
                writer.WriteStartArray();
                list.ForEach(item => WriteJson(writer, item));
                writer.WriteEndArray();
                break;
            case Dictionary<string, object?> map:
                writer.WriteStartObject();
                foreach (var (key, item) in map)
                {
                    writer.WritePropertyName(key);
                    WriteJson(writer, item);
                }
                writer.WriteEndObject();
                break;
            default:
                writer.WriteStringValue(ToText(value));
                break;
        }
    }

    private static bool IsNumber(object? value) => value is long or double or bool;

    private static double ToDouble(object? value) => value switch { long n => n, double d => d, bool b => b ? 1 : 0, _ => double.NaN };

    private static string TypeName(object? value) => value switch
    {
        null => "none",
        Undefined => "an undefined value",
        string => "a string",
        long => "an integer",
        double => "a float",
        bool => "a boolean",
        List<object?> => "a list",
        Dictionary<string, object?> => "a mapping",
        _ => value.GetType().Name,
    };
}
