namespace TokenFormer.Text.Data;

/// <summary>
/// Finds positions where a document can be cut into pieces that tokenise to exactly the ids of the whole text with
/// the GPT-2 split pattern (<see cref="ByteLevelSplitter"/>, no prefix space): no pre-tokenizer piece spans the cut,
/// and the piece that ends at the cut is the same whether or not text follows it.
/// Two kinds of position i (cut before <c>text[i]</c>) qualify:
/// a lone '\n' between two non-space characters (<c>x\n|y</c>), and a lone ' ' between two letters (<c>a| b</c>).
/// </summary>
public static class SafeCut
{
    /// <summary>Whether cutting <paramref name="text"/> before index <paramref name="i"/> keeps the tokenisation.</summary>
    public static bool IsSafe(ReadOnlySpan<char> text, int i)
    {
        if (i < 2 || i + 1 >= text.Length) return false;
        char c = text[i];
        if (text[i - 1] == '\n')
            return !IsSpaceBefore(text, i - 1) && CharClass.At(text, i, out _) != CharKind.Space && !char.IsLowSurrogate(c);
        if (c == ' ')
            return IsLetterBefore(text, i) && CharClass.At(text, i + 1, out _) == CharKind.Letter;
        return false;
    }

    /// <summary>
    /// The largest safe cut in (<paramref name="minimum"/>, <paramref name="text"/>.Length), or -1 when there is none.
    /// </summary>
    public static int FindLast(ReadOnlySpan<char> text, int minimum)
    {
        for (int i = text.Length - 2; i > minimum && i >= 2; i--)
            if (IsSafe(text, i)) return i;
        return -1;
    }

    private static bool IsSpaceBefore(ReadOnlySpan<char> text, int end)
    {
        // class of the code point that ends just before `end`
        int start = end - 1;
        if (char.IsLowSurrogate(text[start]) && start > 0 && char.IsHighSurrogate(text[start - 1])) start--;
        return CharClass.At(text, start, out _) == CharKind.Space;
    }

    private static bool IsLetterBefore(ReadOnlySpan<char> text, int end)
    {
        int start = end - 1;
        if (char.IsLowSurrogate(text[start]) && start > 0 && char.IsHighSurrogate(text[start - 1])) start--;
        return CharClass.At(text, start, out _) == CharKind.Letter;
    }
}
