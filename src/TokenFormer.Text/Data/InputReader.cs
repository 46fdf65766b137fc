using System.IO.Compression;
using System.Text;
using System.Text.Json;
using TokenFormer.Core.IO;

namespace TokenFormer.Text.Data;

/// <summary>
/// Streams documents from input files: <c>.txt</c> (boundaries per <see cref="DocumentBoundary"/>), <c>.jsonl</c>
/// (one JSON object per line, the document in its string field <c>text</c>; blank lines skipped) and <c>.gz</c> of
/// either (<c>.txt.gz</c>, <c>.jsonl.gz</c>). Text is decoded as UTF-8 (a leading UTF-8 byte-order mark is dropped) and invalid
/// byte sequences become U+FFFD, as a lossy reader would hand them to Hugging Face's tokenizer. Documents with no
/// text (an empty file, an empty "text") are skipped and counted. Memory is bounded by the piece size for .txt; a
/// .jsonl line is read whole.
/// </summary>
public sealed class InputReader
{
    private readonly DocumentBoundary _boundary;
    private readonly int _maxPiece;

    /// <summary>Reads with the given .txt boundary rule, cutting documents into pieces of about <paramref name="maxPiece"/> characters (int.MaxValue: never).</summary>
    public InputReader(DocumentBoundary boundary, int maxPiece)
    {
        if (maxPiece < 16) throw new ArgumentOutOfRangeException(nameof(maxPiece), maxPiece, "piece size must be at least 16 characters");
        _boundary = boundary;
        _maxPiece = maxPiece;
    }

    /// <summary>Documents with no text that were skipped.</summary>
    public long EmptyDocuments { get; private set; }

    /// <summary>Compressed (on-disk) bytes consumed so far over all files, for progress.</summary>
    public long BytesRead
    {
        get
        {
            FileStream? f = _current;
            try { return _bytesDone + (f?.Position ?? 0); }
            catch (ObjectDisposedException) { return _bytesDone; }
        }
    }

    private long _bytesDone;
    private FileStream? _current;

    /// <summary>The input kinds accepted, by file name.</summary>
    public static bool IsSupported(string path) => Kind(path) != null;

    private static string? Kind(string path)
    {
        string name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        if (name.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)) return "txt";
        if (name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)) return "jsonl";
        return null;
    }

    /// <summary>
    /// Expands the inputs (a directory stands for its .txt, .jsonl and .gz files, sorted by name) and checks that
    /// each exists and has a supported extension.
    /// </summary>
    public static List<string> ExpandInputs(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.GetFiles(input).Where(IsSupported).OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new DataFormatException($"{input}: directory holds no .txt, .jsonl, .txt.gz or .jsonl.gz files");
                files.AddRange(found);
                continue;
            }
            if (!File.Exists(input)) throw new DataFormatException($"{input}: file not found");
            if (!IsSupported(input))
                throw new DataFormatException($"{input}: unsupported input type (expected .txt, .jsonl, .txt.gz or .jsonl.gz)");
            files.Add(input);
        }
        if (files.Count == 0) throw new DataFormatException("no input files given");
        return files;
    }

    /// <summary>Reads every file in order and calls <paramref name="emit"/> for each piece of each document.</summary>
    public void Read(IReadOnlyList<string> files, Action<DocumentPiece> emit)
    {
        var acc = new DocumentAccumulator(_maxPiece, emit);
        foreach (string path in files)
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            _current = fs;
            long length = fs.Length;
            try
            {
                Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(fs, CompressionMode.Decompress) : fs;
                // UTF-8 only: a UTF-8 byte-order mark is dropped; other BOMs are not honoured (FF FE is invalid UTF-8)
                using var reader = new StreamReader(s, new UTF8Encoding(false, false), detectEncodingFromByteOrderMarks: false, 1 << 16);
                if (reader.Peek() == '\uFEFF') reader.Read();
                if (Kind(path) == "jsonl") ReadJsonl(path, reader, acc);
                else ReadText(reader, acc);
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException($"{path}: not a valid gzip file ({e.Message})");
            }
            _current = null;
            _bytesDone += length;
        }
    }

    private void ReadText(StreamReader reader, DocumentAccumulator acc)
    {
        var lines = new LineReader(reader, Math.Max(16, _maxPiece / 2));
        if (_boundary == DocumentBoundary.File)
        {
            while (lines.Next(out _) is string line) acc.Append(line);
            End(acc);
            return;
        }
        // blank lines only separate documents; a file with no text at all counts as one empty document
        long first = acc.Document;
        bool continuing = false;
        while (lines.Next(out bool complete) is string line)
        {
            if (!continuing && string.IsNullOrWhiteSpace(line))
            {
                acc.TrimFinalLineEnding();
                acc.EndDocument();
            }
            else acc.Append(line);
            continuing = !complete;
        }
        acc.TrimFinalLineEnding();
        acc.EndDocument();
        if (acc.Document == first) EmptyDocuments++;
    }

    private void ReadJsonl(string path, StreamReader reader, DocumentAccumulator acc)
    {
        long lineNumber = 0;
        while (reader.ReadLine() is string line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string text;
            try
            {
                using JsonDocument doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DataFormatException($"{path}:{lineNumber}: expected a JSON object with a string field \"text\"");
                if (!doc.RootElement.TryGetProperty("text", out JsonElement t))
                    throw new DataFormatException($"{path}:{lineNumber}: field \"text\" is missing");
                if (t.ValueKind != JsonValueKind.String)
                    throw new DataFormatException($"{path}:{lineNumber}: field \"text\" must be a string (got {t.ValueKind})");
                text = t.GetString()!;
            }
            catch (JsonException e)
            {
                throw new DataFormatException($"{path}:{lineNumber}: invalid JSON ({e.Message})");
            }
            catch (InvalidOperationException) when (JsonStrings.FirstUndecodable(line) is { } bad)
            {
                throw new DataFormatException($"{path}:{lineNumber}: {JsonStrings.Describe(bad)}");
            }
            acc.Append(text);
            End(acc);
        }
    }

    private void End(DocumentAccumulator acc)
    {
        if (!acc.EndDocument()) EmptyDocuments++;
    }
}
