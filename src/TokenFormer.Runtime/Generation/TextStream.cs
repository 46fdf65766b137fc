using TokenFormer.Text;

namespace TokenFormer.Runtime.Generation;

/// <summary>
/// Incremental detokenisation of one generated sequence with stop strings: ids are appended one at a time; the text
/// decoded so far is released only as complete UTF-8 (a trailing U+FFFD from a character split across tokens is
/// held back until the next token completes it) and never with a tail that could still become a stop string.
/// When a stop string appears, the text is cut before it and <see cref="Stopped"/> turns true.
/// </summary>
public sealed class TextStream
{
    private readonly Tokenizer _tokenizer;
    private readonly IReadOnlyList<string> _stops;
    private readonly List<int> _ids = [];
    private string _text = "";
    private int _emitted;

    /// <summary>A stream decoding with <paramref name="tokenizer"/>, ending at any of <paramref name="stopStrings"/> (empty strings ignored).</summary>
    public TextStream(Tokenizer tokenizer, IReadOnlyList<string>? stopStrings)
    {
        _tokenizer = tokenizer;
        _stops = stopStrings?.Where(s => !string.IsNullOrEmpty(s)).ToArray() ?? [];
    }

    /// <summary>True once a stop string was produced.</summary>
    public bool Stopped { get; private set; }
    /// <summary>The final text so far (cut before a stop string once one appeared).</summary>
    public string Text => _text;
    /// <summary>Ids appended so far.</summary>
    public IReadOnlyList<int> Ids => _ids;

    /// <summary>Appends one id; returns the newly releasable text (possibly empty).</summary>
    public string Append(int id)
    {
        if (Stopped) return "";
        _ids.Add(id);
        _text = _tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids));
        // stop strings: search the region that can contain a new match
        int longest = 0;
        foreach (string s in _stops) longest = Math.Max(longest, s.Length);
        int from = Math.Max(0, _emitted - longest);
        int cut = -1;
        foreach (string s in _stops)
        {
            int k = _text.IndexOf(s, from, StringComparison.Ordinal);
            if (k >= 0 && (cut < 0 || k < cut)) cut = k;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _text = _text[..Math.Max(cut, _emitted)];
            return Release(_text.Length);
        }
        int safe = _text.Length;
        if (safe > 0 && _text[safe - 1] == '\uFFFD') safe--;         // possibly an incomplete character
        safe -= HeldForStop(_text.AsSpan(0, safe));
        return Release(safe);
    }

    /// <summary>Releases everything not yet released (end of generation).</summary>
    public string Flush() => Release(_text.Length);

    private string Release(int end)
    {
        if (end <= _emitted) return "";
        string piece = _text[_emitted..end];
        _emitted = end;
        return piece;
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of a stop string.</summary>
    private int HeldForStop(ReadOnlySpan<char> text)
    {
        int held = 0;
        foreach (string s in _stops)
            for (int len = Math.Min(s.Length - 1, text.Length); len > held; len--)
                if (text[^len..].SequenceEqual(s.AsSpan(0, len))) { held = len; break; }
        return Math.Min(held, Math.Max(0, text.Length - _emitted));
    }
}
