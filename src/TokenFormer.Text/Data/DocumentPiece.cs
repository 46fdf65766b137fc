namespace TokenFormer.Text.Data;

/// <summary>
/// A piece of one document's text, in order: <paramref name="Text"/> (never empty unless the document ends here),
/// the 0-based document number across all inputs, and whether the document ends after this piece.
/// Long documents arrive as several pieces cut at points where the GPT-2 split pattern cuts anyway.
/// </summary>
public readonly record struct DocumentPiece(string Text, long Document, bool EndOfDocument);
