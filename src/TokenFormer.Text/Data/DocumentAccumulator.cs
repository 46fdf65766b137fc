using System.Text;

namespace TokenFormer.Text.Data;

/// <summary>
/// Collects one document's text and hands it on in pieces of at most about <c>maxPiece</c> characters, cut at
/// <see cref="SafeCut"/> positions (or, when a stretch of 2·maxPiece characters has none, at a code-point boundary,
/// where the ids may differ from whole-document encoding), so that memory stays bounded for documents of any size.
/// </summary>
internal sealed class DocumentAccumulator(int maxPiece, Action<DocumentPiece> emit)
{
    private readonly StringBuilder _pending = new();
    private bool _emittedAny;
    private int _nextCheck = maxPiece + maxPiece / 2;

    /// <summary>The current document number.</summary>
    public long Document { get; private set; }

    /// <summary>Characters held now.</summary>
    public int PendingLength => _pending.Length;

    /// <summary>Appends text to the current document.</summary>
    public void Append(ReadOnlySpan<char> text)
    {
        _pending.Append(text);
        while (_pending.Length >= _nextCheck)
        {
            string s = _pending.ToString();
            int cut = SafeCut.FindLast(s.AsSpan(0, Math.Min(s.Length, maxPiece + maxPiece / 2)), maxPiece / 4);
            if (cut < 0)
            {
                if (s.Length < 2 * maxPiece)
                {
                    _nextCheck = _pending.Length + maxPiece / 4;
                    return;
                }
                cut = maxPiece;
                if (char.IsLowSurrogate(s[cut])) cut--;
            }
            emit(new DocumentPiece(s[..cut], Document, false));
            _emittedAny = true;
            _pending.Clear().Append(s.AsSpan(cut));
            _nextCheck = maxPiece + maxPiece / 2;
        }
    }

    /// <summary>Removes a final line ending ("\n" or "\r\n") from the pending text.</summary>
    public void TrimFinalLineEnding()
    {
        if (_pending.Length > 0 && _pending[^1] == '\n') _pending.Length--;
        if (_pending.Length > 0 && _pending[^1] == '\r') _pending.Length--;
    }

    /// <summary>Ends the current document: emits the rest; a document with no text emits nothing. Returns whether it had text.</summary>
    public bool EndDocument()
    {
        bool any = _emittedAny || _pending.Length > 0;
        if (any)
        {
            emit(new DocumentPiece(_pending.ToString(), Document, true));
            Document++;
        }
        _pending.Clear();
        _emittedAny = false;
        _nextCheck = maxPiece + maxPiece / 2;
        return any;
    }
}
