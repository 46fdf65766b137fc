using System.Text;
using System.Text.Json;

namespace TokenFormer.Core.IO;

/// <summary>
/// JSON text that parses but holds a <c>\u</c> escape that is not valid UTF-16 (a lone surrogate such as <c>\ud800</c>):
/// System.Text.Json accepts it, then throws <see cref="InvalidOperationException"/> when that string is read, or when a
/// property lookup compares its sought name with such a property name. Every reader of JSON from outside checks for it
/// (or catches that exception) and fails with its own format error instead (docs/reliability.md, Fuzzing).
/// </summary>
public static class JsonStrings
{
    /// <summary>The problem, as the errors state it.</summary>
    public const string Problem = "holds a \\u escape that is not valid UTF-16 (a lone surrogate such as \\ud800)";

    /// <summary>
    /// The first string or property name of <paramref name="utf8"/> (JSON text) that cannot be decoded: its byte offset
    /// and its field (the property it is the value of or inside, "(a property name)" for a name, "" at the top level);
    /// null when every string decodes or the text is not JSON.
    /// </summary>
    public static (long Offset, string Field)? FirstUndecodable(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 256 });
        string property = "";
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.PropertyName or JsonTokenType.String)) continue;
                try
                {
                    string s = reader.GetString()!;
                    if (reader.TokenType == JsonTokenType.PropertyName) property = s;
                }
                catch (InvalidOperationException)
                {
                    return (reader.TokenStartIndex, reader.TokenType == JsonTokenType.PropertyName ? PropertyName : property);
                }
            }
        }
        catch (JsonException) { }
        return null;
    }

    /// <summary><see cref="FirstUndecodable(ReadOnlySpan{byte})"/> of JSON text held as a string.</summary>
    public static (long Offset, string Field)? FirstUndecodable(string text) => FirstUndecodable(Encoding.UTF8.GetBytes(text));

    /// <summary>"field 'F' holds … (at byte N)", "a property name holds …", or "holds …" at the top level.</summary>
    public static string Describe((long Offset, string Field) at) =>
        at.Field switch { "" => "", PropertyName => "a property name ", _ => $"field '{at.Field}' " } + $"{Problem} (at byte {at.Offset})";

    /// <summary>The field <see cref="FirstUndecodable(ReadOnlySpan{byte})"/> gives for a property name.</summary>
    public const string PropertyName = "(a property name)";
}
