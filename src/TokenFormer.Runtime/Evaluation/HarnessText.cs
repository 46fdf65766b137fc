using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace TokenFormer.Runtime.Evaluation;

/// <summary>
/// The few Python string operations the lm-evaluation-harness task definitions use, with Python's semantics
/// (docs/evaluation.md lists where each is used).
/// </summary>
public static partial class HarnessText
{
    /// <summary>Python <c>str.capitalize()</c>: the first character upper case, every other character lower case.</summary>
    public static string Capitalize(string s)
    {
        if (s.Length == 0) return s;
        int first = char.IsSurrogatePair(s, 0) ? 2 : 1;
        return s[..first].ToUpperInvariant() + s[first..].ToLowerInvariant();
    }

    /// <summary>
    /// HellaSwag's preprocessing: strip, " [title]" → ". ", drop every "[…]" (non-greedy, within a line), then
    /// replace each double space by one (one pass, as Python's str.replace).
    /// </summary>
    public static string PreprocessHellaSwag(string text)
    {
        text = text.Trim();
        text = text.Replace(" [title]", ". ", StringComparison.Ordinal);
        text = Brackets().Replace(text, "");
        return text.Replace("  ", " ", StringComparison.Ordinal);
    }

    /// <summary>Length in characters as Python's <c>len(str)</c> counts them (code points, not UTF-16 units).</summary>
    public static int PythonLength(string s)
    {
        int n = 0;
        foreach (Rune _ in s.EnumerateRunes()) n++;
        return n;
    }

    /// <summary>Python <c>len(re.split(r"\s+", text))</c>: the word count the harness uses for word perplexity.</summary>
    public static int WordCount(string text) => Whitespace().Split(text).Length;

    /// <summary>UTF-8 bytes of the text.</summary>
    public static int ByteCount(string text) => Encoding.UTF8.GetByteCount(text);

    /// <summary>Trailing whitespace length (Python <c>len(s) - len(s.rstrip())</c>, in UTF-16 units of <paramref name="s"/>).</summary>
    public static int TrailingWhitespace(string s) => s.Length - s.TrimEnd().Length;

    /// <summary>
    /// lm-evaluation-harness's WikiText detokeniser, applied to a <c>page</c> before it is scored (words and bytes are
    /// still counted on the original page): undoes WikiText's spaced punctuation (" @-@ " → "-", " , " → ", ", spaces
    /// inside brackets and quotes, " 's" → "'s", …), in the harness's order.
    /// </summary>
    public static string DetokenizeWikiText(string s)
    {
        s = s.Replace("s '", "s'", StringComparison.Ordinal);
        s = Regex.Replace(s, @"/' [0-9]/", "/'[0-9]/", RegexOptions.CultureInvariant);
        s = s.Replace(" @-@ ", "-", StringComparison.Ordinal).Replace(" @,@ ", ",", StringComparison.Ordinal).Replace(" @.@ ", ".", StringComparison.Ordinal);
        s = s.Replace(" : ", ": ", StringComparison.Ordinal).Replace(" ; ", "; ", StringComparison.Ordinal).Replace(" . ", ". ", StringComparison.Ordinal)
            .Replace(" ! ", "! ", StringComparison.Ordinal).Replace(" ? ", "? ", StringComparison.Ordinal).Replace(" , ", ", ", StringComparison.Ordinal);
        s = Regex.Replace(s, @"\(\s*([^\)]*?)\s*\)", "($1)", RegexOptions.CultureInvariant);
        s = Regex.Replace(s, @"\[\s*([^\]]*?)\s*\]", "[$1]", RegexOptions.CultureInvariant);
        s = Regex.Replace(s, @"{\s*([^}]*?)\s*}", "{$1}", RegexOptions.CultureInvariant);
        s = Regex.Replace(s, "\"\\s*([^\"]*?)\\s*\"", "\"$1\"", RegexOptions.CultureInvariant);
        s = Regex.Replace(s, @"'\s*([^']*?)\s*'", "'$1'", RegexOptions.CultureInvariant);
        s = s.Replace("= = = =", "====", StringComparison.Ordinal).Replace("= = =", "===", StringComparison.Ordinal).Replace("= =", "==", StringComparison.Ordinal);
        s = s.Replace(" \u00b0 ", "\u00b0", StringComparison.Ordinal);
        s = s.Replace(" \n", "\n", StringComparison.Ordinal).Replace("\n ", "\n", StringComparison.Ordinal);
        s = s.Replace(" N ", " 1 ", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal);
        return s;
    }

    [GeneratedRegex(@"\[.*?\]", RegexOptions.CultureInvariant)]
    private static partial Regex Brackets();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Whitespace();

    /// <summary>Invariant formatting helper for messages.</summary>
    internal static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
