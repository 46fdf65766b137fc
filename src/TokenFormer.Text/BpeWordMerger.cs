namespace TokenFormer.Text;

/// <summary>
/// Applies BPE merges to one word (a sequence of token ids) the way Hugging Face's <c>Word::merge_all</c> does:
/// a priority queue of adjacent pairs ordered by (rank, position); a popped entry is skipped when its left symbol
/// was absorbed, is last, or the current pair no longer merges into the same token. Reusable, not thread-safe.
/// </summary>
internal sealed class BpeWordMerger
{
    private int[] _ids = new int[64];
    private int[] _prev = new int[64];
    private int[] _next = new int[64];
    private bool[] _removed = new bool[64];
    private long[] _heap = new long[64]; // (rank << 32) | position: ordered by rank, then position
    private int[] _heapMerged = new int[64];
    private int _heapCount;

    /// <summary>Merges <paramref name="symbols"/> in place; returns the number of symbols left at its start.</summary>
    public int MergeAll(Span<int> symbols, BpeMerges merges)
    {
        int n = symbols.Length;
        if (n < 2) return n;
        if (n == 2)
            return merges.TryGet(symbols[0], symbols[1], out _, out int m2) ? Set(symbols, m2) : 2;
        Ensure(n);
        _heapCount = 0;
        for (int i = 0; i < n; i++)
        {
            _ids[i] = symbols[i];
            _prev[i] = i - 1;
            _next[i] = i + 1 < n ? i + 1 : -1;
            _removed[i] = false;
        }
        for (int i = 0; i + 1 < n; i++)
            if (merges.TryGet(_ids[i], _ids[i + 1], out int rank, out int merged)) Push(rank, i, merged);

        while (_heapCount > 0)
        {
            Pop(out int pos, out int newId);
            if (_removed[pos]) continue;
            int right = _next[pos];
            if (right < 0) continue;
            if (!merges.TryGet(_ids[pos], _ids[right], out _, out int current) || current != newId) continue;

            _ids[pos] = newId;
            _removed[right] = true;
            int after = _next[right];
            _next[pos] = after;
            if (after >= 0) _prev[after] = pos;

            int before = _prev[pos];
            if (before >= 0 && merges.TryGet(_ids[before], newId, out int r1, out int m1)) Push(r1, before, m1);
            if (after >= 0 && merges.TryGet(newId, _ids[after], out int r2, out int m3)) Push(r2, pos, m3);
        }

        int count = 0;
        for (int i = 0; i >= 0; i = _next[i]) symbols[count++] = _ids[i];
        return count;
    }

    private static int Set(Span<int> symbols, int id)
    {
        symbols[0] = id;
        return 1;
    }

    private void Ensure(int n)
    {
        if (_ids.Length >= n) return;
        int size = Math.Max(n, _ids.Length * 2);
        _ids = new int[size];
        _prev = new int[size];
        _next = new int[size];
        _removed = new bool[size];
    }

    private void Push(int rank, int pos, int merged)
    {
        if (_heapCount == _heap.Length)
        {
            Array.Resize(ref _heap, _heap.Length * 2);
            Array.Resize(ref _heapMerged, _heapMerged.Length * 2);
        }
        long key = ((long)rank << 32) | (uint)pos;
        int i = _heapCount++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (_heap[parent] <= key) break;
            _heap[i] = _heap[parent];
            _heapMerged[i] = _heapMerged[parent];
            i = parent;
        }
        _heap[i] = key;
        _heapMerged[i] = merged;
    }

    private void Pop(out int pos, out int merged)
    {
        pos = (int)(uint)_heap[0];
        merged = _heapMerged[0];
        int count = --_heapCount;
        if (count == 0) return;
        long key = _heap[count];
        int value = _heapMerged[count];
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= count) break;
            if (child + 1 < count && _heap[child + 1] < _heap[child]) child++;
            if (_heap[child] >= key) break;
            _heap[i] = _heap[child];
            _heapMerged[i] = _heapMerged[child];
            i = child;
        }
        _heap[i] = key;
        _heapMerged[i] = value;
    }
}
