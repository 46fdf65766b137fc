using System.Numerics.Tensors;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;

namespace TokenFormer.Model.Inference;

/// <summary>
/// Softmax attention of new query rows over a <see cref="KvCache"/>: a segment is a run of rows of one sequence at
/// consecutive positions p₀…p₀+n−1 whose keys and values are already in the cache; row i attends to cached
/// positions [0, p₀+i] (causal within the segment, everything before it). Work items are (segment, head) pairs,
/// run over <see cref="Parallelism"/>; scores live in per-thread scratch of [64, MaxLength] floats.
/// Layouts: q and out [rows, H·h]; the cache [MaxBatch, MaxLength, H·h].
/// </summary>
internal sealed class CachedAttention : IParallelWork
{
    private const int BlockRows = 64;
    [ThreadStatic] private static float[]? _scratch;

    private readonly int _heads, _headDim, _width;
    private readonly float _scale;
    private float[] _q = null!, _out = null!, _keys = null!, _values = null!;
    private int[] _segStart = null!, _segLength = null!, _segSlot = null!, _segPosition = null!;
    private KvCache _cache = null!;

    public CachedAttention(int heads, int headDim)
    {
        _heads = heads; _headDim = headDim; _width = heads * headDim;
        _scale = 1f / MathF.Sqrt(headDim);
    }

    /// <summary>
    /// out[rows of segment s] = attention of q over the cache of layer <paramref name="layer"/>, for segments
    /// [0, <paramref name="segments"/>) given by start row, length, cache slot and first position.
    /// </summary>
    public void Run(float[] q, float[] output, KvCache cache, int layer, int segments,
        int[] segStart, int[] segLength, int[] segSlot, int[] segPosition)
    {
        _q = q; _out = output; _cache = cache; _keys = cache.Keys(layer); _values = cache.Values(layer);
        _segStart = segStart; _segLength = segLength; _segSlot = segSlot; _segPosition = segPosition;
        bool oneRowEach = true;
        for (int s = 0; s < segments && oneRowEach; s++) oneRowEach = segLength[s] == 1;
        if (oneRowEach) _decode.Run(this, segments);
        else Parallelism.For(segments * _heads, this);
        _q = _out = _keys = _values = null!;
    }

    /// <summary>The row's softmax in place: the scores of one query row over the positions it sees.</summary>
    private static void Softmax(Span<float> row)
    {
        float max = SpanMath.Max(row);
        float sum = SpanMath.ExpShifted(row, max, row);
        Elementwise.Scale(row, 1f / sum);
    }

    private readonly DecodeJob _decode = new();

    /// <summary>
    /// Decoding (every segment one row): the cache is read position after position with all heads of a row together, so
    /// each thread streams whole rows of the cache in order (per head, each position's row would be read in 256-byte
    /// pieces 3 KB apart). Three passes: scores of a range of positions for every head; softmax per (segment, head);
    /// the weighted values of a range of positions into a partial output per range, then the partials added.
    /// </summary>
    private sealed unsafe class DecodeJob : IParallelWork
    {
        private const int Positions = 64;   // positions per work item of the first pass
        private CachedAttention _a = null!;
        private int _segments, _phase, _chunks, _parts;
        private float[] _scores = [], _partials = [];

        public void Run(CachedAttention a, int segments)
        {
            _a = a; _segments = segments;
            int ld = a._cache.MaxLength, width = a._width;
            int maxKeys = 0;
            for (int s = 0; s < segments; s++) maxKeys = Math.Max(maxKeys, a._segPosition[s] + 1);
            if (_scores.Length < segments * a._heads * ld) _scores = new float[segments * a._heads * ld];
            _chunks = (maxKeys + Positions - 1) / Positions;
            // the weighted sum: a few position ranges per segment (each with its own partial output), no shorter than
            // a chunk, so the partials stay few
            _parts = Math.Max(1, Math.Min(Parallelism.ThreadCount, _chunks));
            if (_partials.Length < segments * _parts * width) _partials = new float[segments * _parts * width];
            _phase = 0; Parallelism.For(segments * _chunks, this);
            _phase = 1; Parallelism.For(segments * a._heads, this);
            _phase = 2; Parallelism.For(segments * _parts, this);
            for (int s = 0; s < segments; s++)
            {
                Span<float> y = a._out.AsSpan(a._segStart[s] * width, width);
                _partials.AsSpan(s * _parts * width, width).CopyTo(y);
                for (int t = 1; t < _parts; t++) TensorPrimitives.Add(y, _partials.AsSpan((s * _parts + t) * width, width), y);
            }
            _a = null!;
        }

        public void Execute(int index)
        {
            CachedAttention a = _a;
            int ld = a._cache.MaxLength, width = a._width, heads = a._heads, hd = a._headDim;
            if (_phase == 1)
            {
                // softmax over the positions the row sees (its own and every earlier one)
                int s1 = index / heads, j1 = index % heads;
                Softmax(_scores.AsSpan((s1 * heads + j1) * ld, a._segPosition[s1] + 1));
                return;
            }
            int per = _phase == 0 ? _chunks : _parts;
            int s = index / per, c = index % per;
            int keys = a._segPosition[s] + 1;
            int cacheBase = a._cache.Offset(a._segSlot[s], 0);
            fixed (float* q = a._q, kc = a._keys, vc = a._values, scores = _scores, partials = _partials)
            {
                float* sc = scores + (long)s * heads * ld;
                if (_phase == 0)
                {
                    int p0 = c * Positions, p1 = Math.Min(keys, p0 + Positions);
                    float* qRow = q + (long)a._segStart[s] * width;
                    for (int p = p0; p < p1; p++)
                        HeadRows.Scores(qRow, kc + cacheBase + (long)p * width, heads, hd, a._scale, sc + p, ld);
                    return;
                }
                int chunk = (keys + _parts - 1) / _parts;
                int q0 = Math.Min(keys, c * chunk), q1 = Math.Min(keys, q0 + chunk);
                float* y = partials + ((long)s * _parts + c) * width;
                new Span<float>(y, width).Clear();
                for (int p = q0; p < q1; p++)
                    HeadRows.AddWeighted(sc + p, ld, vc + cacheBase + (long)p * width, heads, hd, y);
            }
        }
    }

    public void Execute(int index)
    {
        int s = index / _heads, j = index % _heads;
        int r0 = _segStart[s], n = _segLength[s], p0 = _segPosition[s];
        int ld = _cache.MaxLength;
        float[] p = _scratch is { } buf && buf.Length >= BlockRows * ld ? buf : (_scratch = new float[BlockRows * ld]);
        int cacheBase = _cache.Offset(_segSlot[s], 0) + j * _headDim;
        for (int b0 = 0; b0 < n; b0 += BlockRows)
        {
            int rows = Math.Min(BlockRows, n - b0), keys = p0 + b0 + rows;
            Gemm.Compute(GemmForm.NT, rows, _headDim, keys, _q.AsSpan((r0 + b0) * _width + j * _headDim), _width,
                _keys.AsSpan(cacheBase), _width, p, ld, _scale);
            for (int r = 0; r < rows; r++)
            {
                int position = p0 + b0 + r;
                Span<float> row = p.AsSpan(r * ld, keys);
                Softmax(row[..(position + 1)]);
                row[(position + 1)..].Clear();
            }
            Gemm.Compute(GemmForm.NN, rows, keys, _headDim, p, ld, _values.AsSpan(cacheBase), _width,
                _out.AsSpan((r0 + b0) * _width + j * _headDim), _width);
        }
    }
}
