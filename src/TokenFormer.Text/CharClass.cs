using System.Globalization;
using System.Runtime.CompilerServices;

namespace TokenFormer.Text;

/// <summary>The character classes the GPT-2 split pattern distinguishes.</summary>
internal enum CharKind : byte
{
    /// <summary>Neither letter, number nor white space (<c>[^\s\p{L}\p{N}]</c>), including lone surrogates.</summary>
    Other = 0,
    /// <summary><c>\p{L}</c>: Lu, Ll, Lt, Lm, Lo.</summary>
    Letter = 1,
    /// <summary><c>\p{N}</c>: Nd, Nl, No.</summary>
    Number = 2,
    /// <summary><c>\s</c>: the Unicode White_Space property.</summary>
    Space = 3,
}

/// <summary>Classifies code points for the pre-tokenizer (a table for the BMP, the runtime's data beyond).</summary>
internal static class CharClass
{
    private static readonly CharKind[] Bmp = BuildBmp();

    /// <summary>Class and length (1 or 2 UTF-16 units) of the code point starting at <paramref name="i"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CharKind At(ReadOnlySpan<char> s, int i, out int length)
    {
        char c = s[i];
        if (!char.IsHighSurrogate(c) || i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
        {
            length = 1;
            return Bmp[c];
        }
        length = 2;
        return Classify(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, s[i + 1])));
    }

    private static CharKind[] BuildBmp()
    {
        var table = new CharKind[65536];
        for (int c = 0; c < 65536; c++)
        {
            char ch = (char)c;
            table[c] = char.IsSurrogate(ch) ? CharKind.Other
                : char.IsWhiteSpace(ch) ? CharKind.Space
                : Classify(CharUnicodeInfo.GetUnicodeCategory(ch));
        }
        return table;
    }

    private static CharKind Classify(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharKind.Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharKind.Number,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CharKind.Space,
        _ => CharKind.Other,
    };
}
