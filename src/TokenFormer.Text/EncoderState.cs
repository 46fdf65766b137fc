using System.Text;

namespace TokenFormer.Text;

/// <summary>
/// Per-thread scratch state of a <see cref="Tokenizer"/>: the word cache (piece text → ids), the merger and
/// buffers. A cache that reaches its capacity is cleared, so memory stays bounded.
/// </summary>
internal sealed class EncoderState
{
    /// <summary>Words longer than this (in UTF-16 units) are not cached.</summary>
    public const int MaxCachedLength = 256;

    public const int CacheCapacity = 1 << 17;

    private readonly Dictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public EncoderState() => _lookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();

    public readonly BpeWordMerger Merger = new();
    public readonly List<int> Word = new(64);
    public readonly List<int> Output = new(1024);
    public readonly List<(int Start, int Length, int Id)> Segments = new();
    public readonly List<(int Start, int Length, int Id)> InnerSegments = new();
    public byte[] Bytes = new byte[1024];
    public int[] Symbols = new int[1024];

    public bool TryGetCached(ReadOnlySpan<char> piece, out int[] ids) => _lookup.TryGetValue(piece, out ids!);

    public void AddCached(ReadOnlySpan<char> piece, int[] ids)
    {
        if (piece.Length > MaxCachedLength) return;
        if (_cache.Count >= CacheCapacity) _cache.Clear();
        _lookup[piece] = ids;
    }

    /// <summary>Makes <see cref="Bytes"/> and <see cref="Symbols"/> hold the UTF-8 of a piece of <paramref name="chars"/> chars.</summary>
    public void EnsureCapacity(int chars)
    {
        int bytes = Encoding.UTF8.GetMaxByteCount(chars);
        if (Bytes.Length < bytes) Bytes = new byte[Math.Max(bytes, Bytes.Length * 2)];
        if (Symbols.Length < bytes) Symbols = new int[Math.Max(bytes, Symbols.Length * 2)];
    }
}
