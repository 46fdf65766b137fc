namespace TokenFormer.Text;

/// <summary>
/// Finds added tokens in text, leftmost-longest like Hugging Face's Aho-Corasick matcher, with the
/// <c>single_word</c>, <c>lstrip</c> and <c>rstrip</c> options. A trie over UTF-16 units; immutable, thread-safe.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly List<Dictionary<char, int>> _children = [new()];
    private readonly List<int> _tokenAt = [-1]; // node → index into _tokens, or -1
    private readonly AddedToken[] _tokens;
    private readonly bool[] _firstChar = new bool[65536];

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _tokens = tokens.Where(t => t.Content.Length > 0).ToArray();
        for (int t = 0; t < _tokens.Length; t++)
        {
            string content = _tokens[t].Content;
            int node = 0;
            foreach (char c in content)
            {
                if (!_children[node].TryGetValue(c, out int child))
                {
                    child = _children.Count;
                    _children.Add(new Dictionary<char, int>());
                    _tokenAt.Add(-1);
                    _children[node][c] = child;
                }
                node = child;
            }
            if (_tokenAt[node] < 0) _tokenAt[node] = t; // first of duplicate contents wins
            _firstChar[content[0]] = true;
        }
    }

    public bool IsEmpty => _tokens.Length == 0;

    /// <summary>
    /// Splits <paramref name="text"/> into pieces; a piece is either an added token (its id) or plain text (id -1).
    /// Appends (start, length, id) triples to <paramref name="output"/>; empty plain pieces are left out.
    /// </summary>
    public void Split(string text, List<(int Start, int Length, int Id)> output)
    {
        int startOffset = 0;
        int pos = 0;
        while (pos < text.Length)
        {
            if (!_firstChar[text[pos]] || !LongestAt(text, pos, out int matchLength, out AddedToken? token))
            {
                pos++;
                continue;
            }
            int start = pos, stop = pos + matchLength;
            if (token!.SingleWord)
            {
                bool startSpace = start == 0 || !IsWordChar(text[start - 1]);
                bool stopSpace = stop == text.Length || !IsWordChar(text[stop]);
                if (!startSpace || !stopSpace)
                {
                    pos = stop; // matches do not overlap: scanning resumes after the discarded one
                    continue;
                }
            }
            if (token.LeftStrip)
            {
                int s = start;
                while (s > 0 && char.IsWhiteSpace(text[s - 1])) s--;
                start = Math.Max(s, startOffset);
            }
            if (token.RightStrip)
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
            if (startOffset < start) output.Add((startOffset, start - startOffset, -1));
            output.Add((start, stop - start, token.Id));
            startOffset = stop;
            pos = stop;
        }
        if (startOffset < text.Length) output.Add((startOffset, text.Length - startOffset, -1));
    }

    private bool LongestAt(string text, int pos, out int length, out AddedToken? token)
    {
        length = 0;
        token = null;
        int node = 0;
        for (int i = pos; i < text.Length; i++)
        {
            if (!_children[node].TryGetValue(text[i], out node)) break;
            int t = _tokenAt[node];
            if (t >= 0)
            {
                length = i + 1 - pos;
                token = _tokens[t];
            }
        }
        return token is not null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
