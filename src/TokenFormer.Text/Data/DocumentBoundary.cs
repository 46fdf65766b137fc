namespace TokenFormer.Text.Data;

/// <summary>Where one document ends and the next begins in a plain-text (.txt) input.</summary>
public enum DocumentBoundary
{
    /// <summary>Each .txt file is one document, its text kept exactly (trailing newline or not).</summary>
    File,
    /// <summary>
    /// Documents are separated by one or more blank lines (empty or white space only); each document is its lines
    /// with their line endings, less the last line's ending.
    /// </summary>
    BlankLine,
}
