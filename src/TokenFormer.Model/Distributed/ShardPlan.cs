namespace TokenFormer.Model.Distributed;

/// <summary>
/// The parameter arena cut into <see cref="Ranks"/> contiguous ranges, one per rank, for the sharded optimiser (ZeRO
/// stage 1): rank r owns [<see cref="Offset"/>(r), +<see cref="Count"/>(r)). Boundaries fall on multiples of
/// <see cref="Alignment"/> floats so each range starts on a whole SIMD vector; the sizes differ by at most one such
/// block.
/// </summary>
public sealed class ShardPlan
{
    /// <summary>Floats per alignment block (one 512-bit vector).</summary>
    public const int Alignment = 16;
    private readonly int[] _offsets, _counts;

    /// <summary>Floats in the whole arena.</summary>
    public int Total { get; }
    /// <summary>Number of ranges.</summary>
    public int Ranks => _counts.Length;
    /// <summary>First float of rank <paramref name="rank"/>'s range.</summary>
    public int Offset(int rank) => _offsets[rank];
    /// <summary>Floats in rank <paramref name="rank"/>'s range.</summary>
    public int Count(int rank) => _counts[rank];
    /// <summary>All counts (for the MPI calls).</summary>
    internal int[] Counts => _counts;
    /// <summary>All offsets (for the MPI calls).</summary>
    internal int[] Offsets => _offsets;

    /// <summary>Cuts <paramref name="total"/> floats into <paramref name="ranks"/> ranges.</summary>
    public ShardPlan(int total, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        Total = total;
        _offsets = new int[ranks];
        _counts = new int[ranks];
        long blocks = (total + (long)Alignment - 1) / Alignment;
        for (int r = 0; r < ranks; r++)
        {
            long from = Math.Min(total, blocks * r / ranks * Alignment), to = Math.Min(total, blocks * (r + 1) / ranks * Alignment);
            _offsets[r] = (int)from;
            _counts[r] = (int)(to - from);
        }
    }
}
