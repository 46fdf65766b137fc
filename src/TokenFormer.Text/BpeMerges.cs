using System.Runtime.CompilerServices;

namespace TokenFormer.Text;

/// <summary>
/// The merge table of a BPE model: pair of token ids → (rank, id of the merged token). Lower rank merges first.
/// When the same pair is listed twice the later entry wins, as in Hugging Face's loader.
/// </summary>
public sealed class BpeMerges
{
    private readonly Dictionary<long, long> _table;

    /// <summary>Builds the table from merges in rank order: (left id, right id, merged id).</summary>
    public BpeMerges(IReadOnlyList<(int Left, int Right, int Merged)> merges)
    {
        _table = new Dictionary<long, long>(merges.Count);
        Count = merges.Count;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b, m) = merges[rank];
            _table[Key(a, b)] = ((long)rank << 32) | (uint)m;
        }
    }

    /// <summary>Number of merges listed (duplicates included).</summary>
    public int Count { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Looks up the merge of (<paramref name="left"/>, <paramref name="right"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(int left, int right, out int rank, out int merged)
    {
        if (_table.TryGetValue(Key(left, right), out long v))
        {
            rank = (int)(v >> 32);
            merged = (int)(uint)v;
            return true;
        }
        rank = merged = 0;
        return false;
    }
}
