namespace TokenFormer.Core.Threading;

/// <summary>
/// Splits rows [0, n) into one contiguous range per thread, claimed in blocks: the owner of a range takes its blocks
/// front to back, and a thread whose own range is done takes blocks from the back of the others'. Each thread thus reads
/// one long linear stream, which is what lets a memory-bound product reach the read bandwidth (blocks handed out in
/// turn interleave the threads' streams and cost the reduced-precision decode products about a fifth of their speed:
/// docs/quantization.md, "One stream per thread"), while a thread that is descheduled still leaves no one waiting
/// for its whole range. Allocation-free once sized; one instance per calling thread.
/// </summary>
/// <remarks>
/// Each range's (front, back) block indices share one 64-bit word, claimed with a compare-and-swap, so a block is
/// taken exactly once whether its owner reaches it from the front or a thief from the back. Words sit a cache line
/// apart, the first a line past the array's header (whose length every bounds check reads).
/// </remarks>
internal sealed class StealingRanges
{
    private const int Stride = 8; // longs per cache line
    private long[] _words = new long[2 * Stride];
    private int _ranges, _block, _rows;

    /// <summary>The number of ranges: run <c>Parallelism.For(count, …)</c> and call <see cref="TryClaim"/> with the item index.</summary>
    public int Count => _ranges;

    /// <summary>Splits [0, <paramref name="rows"/>) into <paramref name="ranges"/> ranges of whole blocks of <paramref name="block"/> rows.</summary>
    public void Set(int rows, int block, int ranges)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(block, 1);
        int blocks = (rows + block - 1) / block;
        ranges = Math.Clamp(ranges, 1, Math.Max(1, blocks));
        if (_words.Length < (ranges + 1) * Stride) _words = new long[(ranges + 1) * Stride];
        _ranges = ranges; _block = block; _rows = rows;
        for (int r = 0; r < ranges; r++)
        {
            long front = (long)blocks * r / ranges, back = (long)blocks * (r + 1) / ranges;
            Volatile.Write(ref _words[(r + 1) * Stride], (front << 32) | back);
        }
    }

    /// <summary>
    /// The next block for the thread that runs item <paramref name="owner"/>: from the front of its own range, else from
    /// the back of another unfinished one. False when every block has been claimed.
    /// </summary>
    public bool TryClaim(int owner, out int start, out int end)
    {
        if (Take(owner, fromFront: true, out int b) || TakeFromOthers(owner, out b))
        {
            start = b * _block;
            end = Math.Min(_rows, start + _block);
            return true;
        }
        start = end = 0;
        return false;
    }

    private bool TakeFromOthers(int owner, out int block)
    {
        for (int i = 1; i < _ranges; i++)
            if (Take((owner + i) % _ranges, fromFront: false, out block)) return true;
        block = 0;
        return false;
    }

    /// <summary>Claims the front block (the owner) or the back block (a thief) of range <paramref name="r"/>.</summary>
    private bool Take(int r, bool fromFront, out int block)
    {
        ref long word = ref _words[(r + 1) * Stride];
        while (true)
        {
            long w = Volatile.Read(ref word);
            int front = (int)(w >> 32), back = (int)w;
            if (front >= back) { block = 0; return false; }
            long claimed = fromFront ? w + (1L << 32) : w - 1;
            if (Interlocked.CompareExchange(ref word, claimed, w) == w) { block = fromFront ? front : back - 1; return true; }
        }
    }
}
