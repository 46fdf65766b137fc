namespace TokenFormer.Text;

/// <summary>
/// A hand-written scanner equivalent to GPT-2's split pattern, which Hugging Face's ByteLevel pre-tokenizer uses:
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>
/// (alternatives tried in order at each position, greedy, on code points). <see cref="ReferencePattern"/> is the
/// same pattern for .NET <see cref="System.Text.RegularExpressions.Regex"/>, which tests compare against.
/// </summary>
public static class ByteLevelSplitter
{
    /// <summary>The GPT-2 pattern, as a .NET regular expression (the plain reference for the scanner).</summary>
    public const string ReferencePattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>
    /// Length of the piece that starts at <paramref name="start"/> in <paramref name="text"/> (at least 1).
    /// </summary>
    public static int NextPieceLength(ReadOnlySpan<char> text, int start)
    {
        int n = text.Length;
        char c = text[start];
        if (c == '\'' && start + 1 < n)
        {
            char c1 = text[start + 1];
            if (c1 is 's' or 't' or 'm' or 'd') return 2;
            if (start + 2 < n)
            {
                char c2 = text[start + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
            }
        }

        int i = start;
        CharKind kind = CharClass.At(text, i, out int len);
        if (c == ' ' && start + 1 < n)
        {
            CharKind next = CharClass.At(text, start + 1, out int nextLen);
            if (next != CharKind.Space)
            {
                kind = next;
                i = start + 1;
                len = nextLen;
            }
        }

        if (kind != CharKind.Space)
        {
            // ` ?\p{L}+`, ` ?\p{N}+` or ` ?[^\s\p{L}\p{N}]+`: a run of one class.
            i += len;
            while (i < n)
            {
                if (CharClass.At(text, i, out len) != kind) break;
                i += len;
            }
            return i - start;
        }

        // White space: `\s+(?!\S)` leaves the last space to the following piece; `\s+` takes a lone one.
        int end = start + 1;
        while (end < n && CharClass.At(text, end, out _) == CharKind.Space) end++;
        if (end == n || end - start == 1) return end - start;
        return end - 1 - start;
    }

    /// <summary>Splits <paramref name="text"/> into pieces: (start, length) pairs in order.</summary>
    public static List<(int Start, int Length)> Split(ReadOnlySpan<char> text)
    {
        var pieces = new List<(int, int)>();
        for (int i = 0; i < text.Length;)
        {
            int len = NextPieceLength(text, i);
            pieces.Add((i, len));
            i += len;
        }
        return pieces;
    }
}
