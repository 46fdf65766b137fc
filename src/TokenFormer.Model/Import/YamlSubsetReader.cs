using System.Globalization;
using System.Text;

namespace TokenFormer.Model.Import;

/// <summary>
/// Reads the YAML subset the official GPT-NeoX / TokenFormer configs use (<c>configs/tokenformer/*.yml</c>): a flow
/// mapping written like JSON but with <c># comments</c>, Python-style <c>True</c>/<c>False</c>/<c>None</c>, plain
/// (unquoted) scalars and trailing commas; and simple block mappings (<c>key: value</c>, nested by indentation, with
/// <c>- item</c> lists). Values become <see cref="Dictionary{TKey,TValue}"/> (string keys, insertion order),
/// <see cref="List{T}"/>, string, long, double, bool or null. Anchors, tags, multi-documents and block scalars are
/// not supported and give an error naming the line.
/// </summary>
public sealed class YamlSubsetReader
{
    private readonly string _text;
    private readonly string _source;
    private int _pos;
    private int _depth;

    /// <summary>Deepest nesting of mappings and lists accepted (the official configs nest 3 deep); deeper input is an
    /// error instead of a stack overflow, which no handler could catch.</summary>
    public const int MaxDepth = 64;
    private int _lineOffset;

    private YamlSubsetReader(string text, string source)
    {
        _text = text.Replace("\r\n", "\n");
        _source = source;
    }

    /// <summary>Parses <paramref name="text"/>; <paramref name="source"/> names it in errors.</summary>
    public static object? Parse(string text, string source = "config.yml")
    {
        var r = new YamlSubsetReader(text, source);
        r.SkipSpace();
        if (r._pos >= r._text.Length) return new Dictionary<string, object?>();
        char c = r._text[r._pos];
        if (c == '{' || c == '[')
        {
            object? value = r.ParseFlow();
            r.SkipSpace();
            if (r._pos < r._text.Length) throw r.Fail($"unexpected '{r._text[r._pos]}' after the end of the document");
            return value;
        }
        if (r._text.AsSpan(r._pos).StartsWith("---")) throw r.Fail("document markers (---) are not supported");
        string[] lines = r._text.Split('\n');
        int index = 0;
        return r.ParseBlock(lines, ref index, 0);
    }

    // ----------------------------------------------------------------------------- flow style

    private void SkipSpace()
    {
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') _pos++;
            else if (c == '#') { while (_pos < _text.Length && _text[_pos] != '\n') _pos++; }
            else break;
        }
    }

    private object? ParseFlow()
    {
        if (++_depth > MaxDepth) throw Fail($"the value nests deeper than {MaxDepth} levels");
        try { return ParseFlowValue(); }
        finally { _depth--; }
    }

    private object? ParseFlowValue()
    {
        SkipSpace();
        if (_pos >= _text.Length) throw Fail("unexpected end of the document (a value was expected)");
        char c = _text[_pos];
        if (c == '{')
        {
            _pos++;
            var map = new Dictionary<string, object?>();
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; return map; }
                object? keyNode = Peek() is '"' or '\'' ? ParseQuoted() : ParsePlain(isKey: true);
                string key = Convert.ToString(keyNode, CultureInfo.InvariantCulture) ?? "null";
                SkipSpace();
                if (Peek() != ':') throw Fail($"expected ':' after key '{key}'");
                _pos++;
                object? value = ParseFlow();
                if (map.ContainsKey(key)) throw Fail($"key '{key}' appears twice");
                map[key] = value;
                SkipSpace();
                char next = Peek();
                if (next == ',') { _pos++; continue; }
                if (next == '}') { _pos++; return map; }
                throw Fail($"expected ',' or '}}' after the value of '{key}'");
            }
        }
        if (c == '[')
        {
            _pos++;
            var list = new List<object?>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ']') { _pos++; return list; }
                list.Add(ParseFlow());
                SkipSpace();
                char next = Peek();
                if (next == ',') { _pos++; continue; }
                if (next == ']') { _pos++; return list; }
                throw Fail("expected ',' or ']' in a list");
            }
        }
        if (c == '"' || c == '\'') return ParseQuoted();
        if (c is '&' or '*' or '!' or '|' or '>') throw Fail($"YAML feature '{c}' (anchors, tags, block scalars) is not supported");
        return ParsePlain(isKey: false);
    }

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private string ParseQuoted()
    {
        char quote = _text[_pos++];
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length) throw Fail("unterminated quoted string");
            char c = _text[_pos++];
            if (c == quote)
            {
                if (quote == '\'' && Peek() == '\'') { sb.Append('\''); _pos++; continue; }
                return sb.ToString();
            }
            if (c == '\\' && quote == '"')
            {
                if (_pos >= _text.Length) throw Fail("unterminated escape");
                char e = _text[_pos++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case '0': sb.Append('\0'); break;
                    case '"': case '\\': case '/': sb.Append(e); break;
                    case 'u':
                        if (_pos + 4 > _text.Length || !int.TryParse(_text.AsSpan(_pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                            throw Fail("bad \\u escape");
                        sb.Append((char)code);
                        _pos += 4;
                        break;
                    default: throw Fail($"unknown escape '\\{e}'");
                }
                continue;
            }
            sb.Append(c);
        }
    }

    private object? ParsePlain(bool isKey)
    {
        int start = _pos;
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (c == '\n' || c == ',' || c == ']' || c == '}' || c == '{' || c == '[') break;
            if (c == ':' && (isKey || _pos + 1 >= _text.Length || _text[_pos + 1] is ' ' or '\t' or '\n')) break;
            if (c == '#' && _pos > start && _text[_pos - 1] is ' ' or '\t') break;
            _pos++;
        }
        string raw = _text[start.._pos].Trim();
        if (raw.Length == 0) throw Fail("a value was expected");
        return isKey ? raw : Scalar(raw);
    }

    /// <summary>Types a plain scalar the way YAML 1.1 / PyYAML does for the values the configs use.</summary>
    public static object? Scalar(string raw)
    {
        switch (raw)
        {
            case "true": case "True": case "TRUE": case "yes": case "Yes": case "on": case "On": return true;
            case "false": case "False": case "FALSE": case "no": case "No": case "off": case "Off": return false;
            case "null": case "Null": case "NULL": case "~": case "None": return null;
        }
        string clean = raw.Replace("_", "");
        if (long.TryParse(clean, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
        if (clean.Length > 0 && (char.IsDigit(clean[0]) || clean[0] is '-' or '+' or '.')
            && double.TryParse(clean, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
        if (raw is ".inf" or "+.inf") return double.PositiveInfinity;
        if (raw == "-.inf") return double.NegativeInfinity;
        if (raw == ".nan") return double.NaN;
        return raw;
    }

    // ----------------------------------------------------------------------------- block style

    private object? ParseBlock(string[] lines, ref int index, int indent)
    {
        if (++_depth > MaxDepth) throw FailLine(Math.Min(index, lines.Length - 1), $"the value nests deeper than {MaxDepth} levels");
        try { return ParseBlockValue(lines, ref index, indent); }
        finally { _depth--; }
    }

    private object? ParseBlockValue(string[] lines, ref int index, int indent)
    {
        SkipBlank(lines, ref index);
        if (index >= lines.Length) return null;
        string first = StripComment(lines[index]);
        int firstIndent = Indent(first);
        if (first.TrimStart().StartsWith("- ", StringComparison.Ordinal) || first.Trim() == "-")
        {
            var list = new List<object?>();
            while (true)
            {
                SkipBlank(lines, ref index);
                if (index >= lines.Length) return list;
                string line = StripComment(lines[index]);
                int ind = Indent(line);
                if (ind < firstIndent) return list;
                if (ind > firstIndent) throw FailLine(index, "unexpected indentation in a list");
                string body = line.Trim();
                if (!(body.StartsWith("- ", StringComparison.Ordinal) || body == "-")) return list;
                string item = body.Length > 1 ? body[2..].Trim() : "";
                index++;
                list.Add(item.Length == 0 ? ParseBlock(lines, ref index, firstIndent + 1) : Inline(item, index - 1));
            }
        }
        var map = new Dictionary<string, object?>();
        while (true)
        {
            SkipBlank(lines, ref index);
            if (index >= lines.Length) return map;
            string line = StripComment(lines[index]);
            int ind = Indent(line);
            if (ind < firstIndent || ind < indent) return map;
            if (ind > firstIndent) throw FailLine(index, "unexpected indentation");
            string body = line.Trim();
            int colon = FindKeyColon(body);
            if (colon < 0) throw FailLine(index, $"expected 'key: value', got '{body}'");
            string key = body[..colon].Trim().Trim('"', '\'');
            string rest = body[(colon + 1)..].Trim();
            int keyLine = index;
            index++;
            if (map.ContainsKey(key)) throw FailLine(keyLine, $"key '{key}' appears twice");
            if (rest.Length > 0) map[key] = Inline(rest, keyLine);
            else
            {
                SkipBlank(lines, ref index);
                bool nested = index < lines.Length && (Indent(StripComment(lines[index])) > firstIndent
                    || StripComment(lines[index]).TrimStart().StartsWith("- ", StringComparison.Ordinal) && Indent(StripComment(lines[index])) == firstIndent);
                map[key] = nested ? ParseBlock(lines, ref index, firstIndent + 1) : null;
            }
        }
    }

    private object? Inline(string text, int line)
    {
        var r = new YamlSubsetReader(text, _source) { _lineOffset = line, _depth = _depth };
        char c = text[0];
        if (c is '{' or '[' or '"' or '\'')
        {
            object? v = r.ParseFlow();
            r.SkipSpace();
            if (r._pos < r._text.Length) throw r.Fail("unexpected text after the value");
            return v;
        }
        if (c is '&' or '*' or '!' or '|' or '>') throw r.Fail($"YAML feature '{c}' (anchors, tags, block scalars) is not supported");
        return Scalar(text);
    }

    private static int FindKeyColon(string body)
    {
        bool inQuote = false;
        char q = '\0';
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (inQuote) { if (c == q) inQuote = false; continue; }
            if (c is '"' or '\'') { inQuote = true; q = c; continue; }
            if (c == ':' && (i + 1 == body.Length || body[i + 1] is ' ' or '\t')) return i;
        }
        return -1;
    }

    private static string StripComment(string line)
    {
        bool inQuote = false;
        char q = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (inQuote) { if (c == q) inQuote = false; continue; }
            if (c is '"' or '\'') { inQuote = true; q = c; continue; }
            if (c == '#' && (i == 0 || line[i - 1] is ' ' or '\t')) return line[..i].TrimEnd();
        }
        return line.TrimEnd();
    }

    private static int Indent(string line)
    {
        int i = 0;
        while (i < line.Length && line[i] == ' ') i++;
        return i;
    }

    private static void SkipBlank(string[] lines, ref int index)
    {
        while (index < lines.Length && StripComment(lines[index]).Trim().Length == 0) index++;
    }

    private TokenFormerConfigException Fail(string message)
    {
        int line = 1 + _lineOffset;
        for (int i = 0; i < Math.Min(_pos, _text.Length); i++) if (_text[i] == '\n') line++;
        return new TokenFormerConfigException($"{_source} line {line}: {message}");
    }

    private TokenFormerConfigException FailLine(int index, string message) => new($"{_source} line {index + 1}: {message}");
}
