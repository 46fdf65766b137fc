using TokenFormer.Core.Threading;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Inference;

/// <summary>
/// Attention of new rows against a <see cref="KvCache"/> (prefill and decode are the same call): each row is a token of
/// a cache slot at a position; its rotated key and its value are written into the cache at (slot, position), and its
/// query attends to every cached position of its slot up to its own. Rows of one slot at consecutive positions form
/// a segment (see <see cref="CachedAttention"/>). In the last layer only the rows whose logits are wanted go on past the
/// key/value products (the others' keys and values are all the cache needs): they are moved to the front.
/// All buffers are allocated in the constructor. Not thread-safe.
/// </summary>
internal sealed class CachedAttentionContext : IAttentionContext
{
    private readonly KvCache _cache;
    private readonly RotaryEmbedding _rotary;
    private readonly CachedAttention _attention;
    private readonly int _d, _heads, _layers, _qkvWidth;
    private readonly int[] _slots, _positions, _logitRows, _compactPositions;
    private readonly int[] _segStart, _segLength, _segSlot, _segPosition;
    private readonly KeyValueJob _kvJob;
    private readonly QueryJob _qJob;
    private readonly SharedPrefix[] _shared;
    private int[] _qPositions;
    private int _segments, _logitCount, _sharedCount;

    public CachedAttentionContext(TokenFormerConfig config, KvCache cache, int maxRows, int maxLogitRows = 0)
    {
        if (maxLogitRows == 0) maxLogitRows = cache.MaxBatch;
        _cache = cache;
        _d = config.HiddenSize; _heads = config.NumAttentionHeads; _layers = config.NumLayers;
        _qkvWidth = 3 * config.QkvSlotNum;
        _rotary = new RotaryEmbedding(config.HeadDim, config.RotaryDim, config.RotaryEmbBase, cache.MaxLength);
        _attention = new CachedAttention(_heads, config.HeadDim);
        _slots = new int[maxRows]; _positions = new int[maxRows];
        _logitRows = new int[maxLogitRows]; _compactPositions = new int[maxLogitRows];
        _segStart = new int[maxRows]; _segLength = new int[maxRows]; _segSlot = new int[maxRows]; _segPosition = new int[maxRows];
        _qPositions = _positions;
        _shared = new SharedPrefix[cache.MaxBatch];
        _kvJob = new KeyValueJob(this);
        _qJob = new QueryJob(this);
    }

    /// <summary>
    /// Takes the rows of the next forward (already checked): their slots and positions, and the rows whose logits are
    /// wanted (strictly increasing), and the prefixes to share between slots in every layer (checked, at most one per
    /// slot). Groups consecutive positions of one slot into segments.
    /// </summary>
    public void Begin(ReadOnlySpan<int> slots, ReadOnlySpan<int> positions, ReadOnlySpan<int> logitRows, ReadOnlySpan<SharedPrefix> shared = default)
    {
        shared.CopyTo(_shared);
        _sharedCount = shared.Length;
        int n = slots.Length, segments = 0;
        for (int i = 0; i < n; i++)
        {
            if (i > 0 && slots[i] == slots[i - 1] && positions[i] == positions[i - 1] + 1) { _segLength[segments - 1]++; continue; }
            _segStart[segments] = i; _segLength[segments] = 1; _segSlot[segments] = slots[i]; _segPosition[segments] = positions[i];
            segments++;
        }
        slots.CopyTo(_slots);
        positions.CopyTo(_positions);
        logitRows.CopyTo(_logitRows);
        _segments = segments;
        _logitCount = logitRows.Length;
        _qPositions = _positions;
    }

    /// <inheritdoc/>
    public int AcceptKeysAndValues(int layer, int rows, BlockActivations a, float[] x)
    {
        _kvJob.Run(layer, rows, a.K, a.V);
        CopySharedPrefixes(layer);
        int m = _logitCount;
        if (layer < _layers - 1 || m == rows) return rows;
        // last layer: past this point only the logit rows matter; move them to the front (when every row is a logit
        // row, they are 0…n−1 in order and nothing moves)
        int w = _qkvWidth;
        for (int i = 0; i < m; i++)
        {
            int r = _logitRows[i];
            _compactPositions[i] = _positions[r];
            _segStart[i] = i; _segLength[i] = 1; _segSlot[i] = _slots[r]; _segPosition[i] = _positions[r];
            if (r == i) continue;
            a.Qkv.S.AsSpan(r * w, w).CopyTo(a.Qkv.S.AsSpan(i * w, w));
            x.AsSpan(r * _d, _d).CopyTo(x.AsSpan(i * _d, _d));
        }
        _qPositions = _compactPositions;
        _segments = m;
        return m;
    }

    /// <summary>This layer's keys and values of each shared prefix, copied from its slot to the target slot.</summary>
    private void CopySharedPrefixes(int layer)
    {
        float[] keys = _cache.Keys(layer), values = _cache.Values(layer);
        for (int i = 0; i < _sharedCount; i++)
        {
            SharedPrefix s = _shared[i];
            int from = _cache.Offset(s.From, 0), to = _cache.Offset(s.To, 0), count = s.Length * _d;
            Array.Copy(keys, from, keys, to, count);
            Array.Copy(values, from, values, to, count);
        }
    }

    /// <inheritdoc/>
    public void Attend(int layer, int rows, BlockActivations a)
    {
        _qJob.Run(rows, a.Q);
        _attention.Run(a.Q, a.Att, _cache, layer, _segments, _segStart, _segLength, _segSlot, _segPosition);
    }

    /// <summary>Rotates each new key, then writes key and value into the cache at (slot, position).</summary>
    private sealed class KeyValueJob(CachedAttentionContext c) : IRowWork
    {
        private float[] _k = null!, _v = null!, _keys = null!, _values = null!;

        public void Run(int layer, int rows, float[] k, float[] v)
        {
            _k = k; _v = v; _keys = c._cache.Keys(layer); _values = c._cache.Values(layer);
            RowRanges.Run(rows, this);
            _k = _v = _keys = _values = null!;
        }

        public void Rows(int start, int end)
        {
            int d = c._d;
            for (int i = start; i < end; i++)
            {
                c._rotary.Apply(_k.AsSpan(i * d, d), c._heads, c._positions[i], inverse: false);
                int off = c._cache.Offset(c._slots[i], c._positions[i]);
                _k.AsSpan(i * d, d).CopyTo(_keys.AsSpan(off, d));
                _v.AsSpan(i * d, d).CopyTo(_values.AsSpan(off, d));
            }
        }
    }

    /// <summary>Rotates each query for its position.</summary>
    private sealed class QueryJob(CachedAttentionContext c) : IRowWork
    {
        private float[] _q = null!;

        public void Run(int rows, float[] q)
        {
            _q = q;
            RowRanges.Run(rows, this);
            _q = null!;
        }

        public void Rows(int start, int end)
        {
            int d = c._d;
            for (int i = start; i < end; i++) c._rotary.Apply(_q.AsSpan(i * d, d), c._heads, c._qPositions[i], inverse: false);
        }
    }
}
