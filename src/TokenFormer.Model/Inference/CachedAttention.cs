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
        Parallelism.For(segments * _heads, this);
        _q = _out = _keys = _values = null!;
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
                Span<float> valid = row[..(position + 1)];
                float max = SpanMath.Max(valid);
                float sum = SpanMath.ExpShifted(valid, max, valid);
                Elementwise.Scale(valid, 1f / sum);
                row[(position + 1)..].Clear();
            }
            Gemm.Compute(GemmForm.NN, rows, keys, _headDim, p, ld, _values.AsSpan(cacheBase), _width,
                _out.AsSpan((r0 + b0) * _width + j * _headDim), _width);
        }
    }
}
