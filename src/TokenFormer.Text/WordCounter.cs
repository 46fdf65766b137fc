using System.Text;
using TokenFormer.Core.Threading;

namespace TokenFormer.Text;

/// <summary>
/// Counts the pre-tokenized words of training text the way Hugging Face's trainer sees them: the text is cut into
/// lines that keep their '\n', each line is pre-tokenized on its own (GPT-2 pattern, optional prefix space) and
/// every piece is counted. Counting runs in parallel over line-aligned chunks.
/// </summary>
public sealed class WordCounter(bool addPrefixSpace = false)
{
    private const int ChunkChars = 1 << 20;

    /// <summary>Word (the piece's text, not yet byte-mapped) → occurrences.</summary>
    public Dictionary<string, long> Counts { get; } = new(StringComparer.Ordinal);

    /// <summary>Reads a UTF-8 file (invalid bytes become U+FFFD) and counts its words.</summary>
    public void AddFile(string path) => AddText(File.ReadAllText(path, new UTF8Encoding(false, false)));

    /// <summary>Counts the words of <paramref name="text"/>, line by line.</summary>
    public void AddText(string text)
    {
        var chunks = new List<(int Start, int Length)>();
        for (int start = 0; start < text.Length;)
        {
            int end = Math.Min(text.Length, start + ChunkChars);
            if (end < text.Length)
            {
                int nl = text.IndexOf('\n', end);
                end = nl < 0 ? text.Length : nl + 1;
            }
            chunks.Add((start, end - start));
            start = end;
        }
        var partial = new Dictionary<string, long>[chunks.Count];
        Parallelism.For(chunks.Count, new CountWork(text, chunks, partial, addPrefixSpace));
        foreach (Dictionary<string, long> part in partial)
        {
            foreach (var (word, count) in part)
            {
                Counts.TryGetValue(word, out long c);
                Counts[word] = c + count;
            }
        }
    }

    /// <summary>Counts the words of one sequence (no line splitting) into <paramref name="counts"/>.</summary>
    internal static void CountSequence(ReadOnlySpan<char> sequence, bool addPrefixSpace,
        Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> counts)
    {
        if (sequence.Length == 0) return;
        if (addPrefixSpace && sequence[0] != ' ')
        {
            string prefixed = " " + sequence.ToString();
            CountSequence(prefixed, false, counts);
            return;
        }
        for (int i = 0; i < sequence.Length;)
        {
            int len = ByteLevelSplitter.NextPieceLength(sequence, i);
            ReadOnlySpan<char> piece = sequence.Slice(i, len);
            counts.TryGetValue(piece, out long c);
            counts[piece] = c + 1;
            i += len;
        }
    }

    private sealed class CountWork(string text, List<(int Start, int Length)> chunks, Dictionary<string, long>[] partial, bool addPrefixSpace)
        : IParallelWork
    {
        public void Execute(int index)
        {
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
            var (start, length) = chunks[index];
            ReadOnlySpan<char> chunk = text.AsSpan(start, length);
            while (chunk.Length > 0)
            {
                int nl = chunk.IndexOf('\n');
                int lineLength = nl < 0 ? chunk.Length : nl + 1;
                CountSequence(chunk[..lineLength], addPrefixSpace, lookup);
                chunk = chunk[lineLength..];
            }
            partial[index] = counts;
        }
    }
}
