using System.Text;
using System.Text.Json;

namespace TokenFormer.Runtime.Evaluation;

/// <summary>
/// JSON text that parses but holds a <c>\u</c> escape that is not valid UTF-16 (a lone surrogate such as <c>\ud800</c>):
/// System.Text.Json accepts the line, then throws <see cref="InvalidOperationException"/> when that string is read, or
/// when a property is looked up past such a property name. The readers turn that into an
/// <see cref="EvalDataException"/> naming the field.
/// </summary>
internal static class JsonStrings
{
    /// <summary>The problem, as the error states it.</summary>
    public const string Problem = "holds a \\u escape that is not valid UTF-16 (a lone surrogate such as \\ud800)";

    /// <summary>
    /// The field of the first string of <paramref name="line"/> (a JSON text) that cannot be decoded: the property it is
    /// the value of (or inside), "(a property name)" for a name, or "" when at the top level; null when every string decodes.
    /// </summary>
    public static string? FirstUndecodable(string line)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
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
                    return reader.TokenType == JsonTokenType.PropertyName ? "(a property name)" : property;
                }
            }
        }
        catch (JsonException) { }
        return null;
    }
}
