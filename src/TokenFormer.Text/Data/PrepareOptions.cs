namespace TokenFormer.Text.Data;

/// <summary>Settings of <see cref="DataPreparer"/>.</summary>
public sealed record PrepareOptions
{
    /// <summary>Input files or directories (.txt, .jsonl, .txt.gz, .jsonl.gz).</summary>
    public required IReadOnlyList<string> Inputs { get; init; }
    /// <summary>Output data directory.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>
    /// Fraction of documents for validation, in [0, 1): document d (0-based, in input order) goes to validation when
    /// ⌊(d+1)·f⌋ &gt; ⌊d·f⌋, i.e. evenly spaced, ⌊n·f⌋ of n documents.
    /// </summary>
    public double ValFraction { get; init; } = 0.005;
    /// <summary>
    /// Fewest validation tokens the document split may leave before the split is made by tokens instead (see
    /// <see cref="DataPreparer"/>): one evaluation window at <c>train</c>'s default --seq 256, i.e. 256 inputs + 1 target.
    /// </summary>
    public long MinValidationTokens { get; init; } = 257;
    /// <summary>How .txt files are cut into documents.</summary>
    public DocumentBoundary Boundary { get; init; } = DocumentBoundary.File;
    /// <summary>
    /// Piece size of long documents (characters; pieces are up to 1.5× this): longer documents are cut at safe points.
    /// The default keeps pieces and their ids off the large object heap, so memory stays flat.
    /// </summary>
    public int MaxPieceChars { get; init; } = 1 << 14;
    /// <summary>Characters read ahead per parallel tokenisation batch (two batches are in flight at most).</summary>
    public int BatchChars { get; init; } = 8 << 20;

    /// <summary>Whether document <paramref name="document"/> belongs to the validation split.</summary>
    public bool IsValidation(long document) =>
        ValFraction > 0 && Math.Floor((document + 1) * ValFraction) > Math.Floor(document * ValFraction);
}

/// <summary>Progress of a <see cref="DataPreparer"/> run.</summary>
public readonly record struct PrepareProgress(long BytesRead, long TotalBytes, long Tokens, long Documents, TimeSpan Elapsed);
