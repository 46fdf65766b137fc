using System.Text;

namespace TokenFormer.Text.Data;

/// <summary>
/// Reads a text stream line by line, each line with its ending ("\n", "\r\n" or none at the end of the stream),
/// returning a line longer than <c>maxLine</c> characters in several parts so that memory stays bounded.
/// </summary>
internal sealed class LineReader(TextReader reader, int maxLine)
{
    private readonly char[] _buffer = new char[1 << 16];
    private readonly StringBuilder _line = new();
    private int _pos, _len;
    private bool _eof;

    /// <summary>
    /// The next line or part of a line; <paramref name="complete"/> is false for a part that the rest of a long
    /// line follows. Returns null at the end of the stream.
    /// </summary>
    public string? Next(out bool complete)
    {
        _line.Clear();
        while (true)
        {
            if (_pos == _len)
            {
                if (_eof || (_len = reader.Read(_buffer, 0, _buffer.Length)) == 0)
                {
                    _eof = true;
                    _pos = _len = 0;
                    complete = true;
                    if (_line.Length == 0) return null;
                    return _line.ToString();
                }
                _pos = 0;
            }
            int nl = Array.IndexOf(_buffer, '\n', _pos, _len - _pos);
            int end = nl < 0 ? _len : nl + 1;
            int take = Math.Min(end - _pos, maxLine - _line.Length);
            _line.Append(_buffer, _pos, take);
            _pos += take;
            if (nl >= 0 && _pos == nl + 1)
            {
                complete = true;
                return _line.ToString();
            }
            if (_line.Length >= maxLine)
            {
                // keep a surrogate pair together
                if (char.IsHighSurrogate(_line[^1]) && _line.Length > 1)
                {
                    _line.Length--;
                    _pos--;
                }
                complete = false;
                return _line.ToString();
            }
        }
    }
}
