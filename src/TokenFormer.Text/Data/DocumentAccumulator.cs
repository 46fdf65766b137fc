namespace TokenFormer.Text.Data;

/// <summary>
/// Collects one document's text and hands it on in pieces of at most about 1.5·<c>maxPiece</c> characters, cut at
/// <see cref="SafeCut"/> positions (or, when a stretch of 2·maxPiece characters has none, at a code-point boundary,
/// where the ids may differ from whole-document encoding), so that memory stays bounded for documents of any size.
/// The text is held in one reused buffer; with the default piece size every string it makes stays off the large
/// object heap, so the garbage collector reclaims it promptly.
/// </summary>
internal sealed class DocumentAccumulator(int maxPiece, Action<DocumentPiece> emit)
{
    private char[] _buffer = new char[Math.Min(maxPiece, 1 << 16) * 2];
    private int _length;
    private bool _emittedAny;
    private int _nextCheck = Limit(maxPiece);

    private static int Limit(int maxPiece) => maxPiece >= int.MaxValue / 4 ? int.MaxValue : maxPiece + maxPiece / 2;

    /// <summary>The current document number.</summary>
    public long Document { get; private set; }

    /// <summary>Appends text to the current document.</summary>
    public void Append(ReadOnlySpan<char> text)
    {
        if (_length + text.Length > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_length + text.Length, _buffer.Length * 2));
        text.CopyTo(_buffer.AsSpan(_length));
        _length += text.Length;
        while (_length >= _nextCheck)
        {
            ReadOnlySpan<char> pending = _buffer.AsSpan(0, _length);
            int cut = SafeCut.FindLast(pending[..Math.Min(_length, Limit(maxPiece))], maxPiece / 4);
            if (cut < 0)
            {
                if (_length < 2 * maxPiece)
                {
                    _nextCheck = _length + Math.Max(1, maxPiece / 4);
                    return;
                }
                cut = maxPiece;
                if (char.IsLowSurrogate(pending[cut])) cut--;
            }
            emit(new DocumentPiece(new string(pending[..cut]), Document, false));
            _emittedAny = true;
            pending[cut..].CopyTo(_buffer);
            _length -= cut;
            _nextCheck = Limit(maxPiece);
        }
    }

    /// <summary>Removes a final line ending ("\n" or "\r\n") from the pending text.</summary>
    public void TrimFinalLineEnding()
    {
        if (_length > 0 && _buffer[_length - 1] == '\n') _length--;
        if (_length > 0 && _buffer[_length - 1] == '\r') _length--;
    }

    /// <summary>Ends the current document: emits the rest; a document with no text emits nothing. Returns whether it had text.</summary>
    public bool EndDocument()
    {
        bool any = _emittedAny || _length > 0;
        if (any)
        {
            emit(new DocumentPiece(new string(_buffer, 0, _length), Document, true));
            Document++;
        }
        _length = 0;
        _emittedAny = false;
        _nextCheck = Limit(maxPiece);
        if (_buffer.Length > 4 * maxPiece && maxPiece < int.MaxValue / 4) _buffer = new char[Math.Min(maxPiece, 1 << 16) * 2];
        return any;
    }
}
