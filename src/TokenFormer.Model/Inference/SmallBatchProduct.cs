using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TokenFormer.Core.Threading;

namespace TokenFormer.Model.Inference;

/// <summary>
/// Products with a few rows (a decode step of 2–8 live sequences) that read the weight matrix once, whatever the number
/// of rows: the blocked GEMM packs B on every call, which for M this small costs more than the product.
/// NT: y[m, j] = Σ_k x[m, k]·B[j, k] with B: [N, K] (each thread streams a contiguous block of B's rows);
/// NN: y[m, j] (+)= Σ_q x[m, q]·B[q, j] with B: [K, N] (each thread a contiguous range of B's rows into partial outputs of
/// its own, added at the end: one linear stream per thread, where a range of B's columns would read every row in part,
/// which the hardware prefetcher follows poorly — docs/benchmarks.md, "Decode products").
/// x: [M, K] with row stride ldx; y: [M, N] with row stride ldy. Rows are taken four at a time (a fifth to eighth
/// row streams B a second time). Needs Vector512 (<see cref="IsSupported"/>); otherwise use the GEMM.
/// </summary>
internal sealed unsafe class SmallBatchProduct : IParallelWork
{
    /// <summary>Most rows this path takes.</summary>
    public const int MaxRows = 8;
    private const int RowBlock = 64;

    /// <summary>True when the CPU runs Vector512 in hardware.</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    private readonly float[] _zero;
    private readonly float[] _sink;
    private float[] _x = null!, _b = null!, _y = null!;
    private float[] _partials = [];
    private int _xOff, _bOff, _yOff, _ldx, _ldy, _m, _k, _n, _parts, _chunk;
    private bool _nt, _accumulate;

    /// <summary>Largest inner dimension K and output width N this instance takes.</summary>
    public int MaxWidth => _zero.Length;

    /// <summary>Scratch for products whose inner dimension K and output width N are at most <paramref name="maxWidth"/>.</summary>
    public SmallBatchProduct(int maxWidth)
    {
        _zero = new float[maxWidth];
        _sink = new float[maxWidth];
    }

    /// <summary>y[M, N] (+)= x[M, K]·B[N, K]ᵀ (nt) or x[M, K]·B[K, N] (nn), 1 ≤ M ≤ 8.</summary>
    public void Run(bool nt, int m, int k, int n, float[] x, int xOffset, int ldx, float[] b, int bOffset,
        float[] y, int yOffset, int ldy, bool accumulate)
    {
        if (m < 1 || m > MaxRows) throw new ArgumentException($"rows must be 1 to {MaxRows} (got {m})");
        if (k > _zero.Length || n > _sink.Length) throw new ArgumentException($"K ({k}) and N ({n}) must be at most {_zero.Length}");
        if ((long)xOffset + (long)(m - 1) * ldx + k > x.Length || (long)bOffset + (long)k * n > b.Length || (long)yOffset + (long)(m - 1) * ldy + n > y.Length)
            throw new ArgumentException($"small-batch product [{m}, {k}]·[{k}, {n}]: an operand is shorter than its shape");
        _nt = nt; _m = m; _k = k; _n = n; _x = x; _b = b; _y = y; _xOff = xOffset; _bOff = bOffset; _yOff = yOffset;
        _ldx = ldx; _ldy = ldy; _accumulate = accumulate;
        int threads = Parallelism.ThreadCount;
        if (nt)
        {
            _chunk = RowBlock;
            _parts = (n + RowBlock - 1) / RowBlock;
        }
        else
        {
            // ranges of B's rows, each summed into its own [M, N] partial (zeroed), then added into y
            bool parallel = (long)m * k * n >= 1 << 15 && threads > 1;
            _parts = parallel ? Math.Max(1, Math.Min(threads, k / 16)) : 1;
            _chunk = (k + _parts - 1) / _parts;
            _parts = (k + _chunk - 1) / _chunk;
            if (_parts > 1)
            {
                if (_partials.Length < _parts * m * n) _partials = new float[_parts * m * n];
                Parallelism.For(_parts, this);
                AddPartials();
                _x = _b = _y = null!;
                return;
            }
            _chunk = n;   // one part: every column, below
        }
        if ((long)m * k * n < 1 << 15) for (int i = 0; i < _parts; i++) Execute(i);
        else Parallelism.For(_parts, this);
        _x = _b = _y = null!;
    }

    /// <summary>y_r (+)= Σ over parts of the part's row r.</summary>
    private void AddPartials()
    {
        int m = _m, n = _n;
        for (int r = 0; r < m; r++)
        {
            Span<float> y = _y.AsSpan(_yOff + r * _ldy, n);
            ReadOnlySpan<float> first = _partials.AsSpan(r * n, n);
            if (_accumulate) TensorPrimitives.Add(y, first, y);
            else first.CopyTo(y);
            for (int t = 1; t < _parts; t++) TensorPrimitives.Add(y, _partials.AsSpan((t * m + r) * n, n), y);
        }
    }

    public void Execute(int index)
    {
        if (!_nt && _parts > 1) { NnRows(index); return; }
        int j0 = index * _chunk, j1 = Math.Min(_n, j0 + _chunk);
        fixed (float* x = _x, b = _b, y = _y, zero = _zero, sink = _sink)
        {
            for (int m0 = 0; m0 < _m; m0 += 4)
            {
                int rows = Math.Min(4, _m - m0);
                float* x0 = x + _xOff + (long)m0 * _ldx;
                float* x1 = rows > 1 ? x0 + _ldx : zero, x2 = rows > 2 ? x0 + 2L * _ldx : zero, x3 = rows > 3 ? x0 + 3L * _ldx : zero;
                float* y0 = y + _yOff + (long)m0 * _ldy;
                // rows past M read zeros and write into a sink, so one body serves 1–4 rows
                float* y1 = rows > 1 ? y0 + _ldy : sink - j0, y2 = rows > 2 ? y0 + 2L * _ldy : sink - j0, y3 = rows > 3 ? y0 + 3L * _ldy : sink - j0;
                if (_nt) Nt(b + _bOff, _k, j0, j1, x0, x1, x2, x3, y0, y1, y2, y3, _accumulate);
                else Nn(b + _bOff, 0, _k, _n, j0, j1, x0, x1, x2, x3, y0, y1, y2, y3, _accumulate);
            }
        }
    }

    /// <summary>Part <paramref name="index"/> of an NN product split by rows of B: rows [q0, q1) into its partial.</summary>
    private void NnRows(int index)
    {
        int q0 = index * _chunk, q1 = Math.Min(_k, q0 + _chunk), n = _n;
        fixed (float* x = _x, b = _b, partials = _partials, zero = _zero, sink = _sink)
        {
            float* p = partials + (long)index * _m * n;
            for (int m0 = 0; m0 < _m; m0 += 4)
            {
                int rows = Math.Min(4, _m - m0);
                float* x0 = x + _xOff + (long)m0 * _ldx;
                float* x1 = rows > 1 ? x0 + _ldx : zero, x2 = rows > 2 ? x0 + 2L * _ldx : zero, x3 = rows > 3 ? x0 + 3L * _ldx : zero;
                float* y0 = p + (long)m0 * n;
                float* y1 = rows > 1 ? y0 + n : sink, y2 = rows > 2 ? y0 + 2L * n : sink, y3 = rows > 3 ? y0 + 3L * n : sink;
                Nn(b + _bOff, q0, q1, n, 0, n, x0, x1, x2, x3, y0, y1, y2, y3, accumulate: false);
            }
        }
    }

    /// <summary>Rows j ∈ [j0, j1) of B [·, K]: y_r[j] (+)= x_r · B[j, :] for four rows r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Nt(float* b, int k, int j0, int j1, float* x0, float* x1, float* x2, float* x3,
        float* y0, float* y1, float* y2, float* y3, bool accumulate)
    {
        for (int j = j0; j < j1; j++)
        {
            float* row = b + (long)j * k;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int q = 0;
            for (; q + 16 <= k; q += 16)
            {
                Vector512<float> w = Vector512.Load(row + q);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(x0 + q), w, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(x1 + q), w, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(x2 + q), w, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(x3 + q), w, a3);
            }
            float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
            for (; q < k; q++)
            {
                float w = row[q];
                s0 += x0[q] * w; s1 += x1[q] * w; s2 += x2[q] * w; s3 += x3[q] * w;
            }
            if (accumulate) { y0[j] += s0; y1[j] += s1; y2[j] += s2; y3[j] += s3; }
            else { y0[j] = s0; y1[j] = s1; y2[j] = s2; y3[j] = s3; }
        }
    }

    /// <summary>
    /// Rows [q0, k) and columns [j0, j1) of B [·, N]: y_r[j] (+)= Σ_q x_r[q]·B[q, j] for four rows r, B streamed row by row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Nn(float* b, int q0, int k, int n, int j0, int j1, float* x0, float* x1, float* x2, float* x3,
        float* y0, float* y1, float* y2, float* y3, bool accumulate)
    {
        if (!accumulate)
            for (int j = j0; j < j1; j++) { y0[j] = 0; y1[j] = 0; y2[j] = 0; y3[j] = 0; }
        int q = q0;
        for (; q + 2 <= k; q += 2)
        {
            float* r0 = b + (long)q * n, r1 = r0 + n;
            Vector512<float> c00 = Vector512.Create(x0[q]), c10 = Vector512.Create(x1[q]), c20 = Vector512.Create(x2[q]), c30 = Vector512.Create(x3[q]);
            Vector512<float> c01 = Vector512.Create(x0[q + 1]), c11 = Vector512.Create(x1[q + 1]), c21 = Vector512.Create(x2[q + 1]), c31 = Vector512.Create(x3[q + 1]);
            int j = j0;
            for (; j + 16 <= j1; j += 16)
            {
                Vector512<float> w0 = Vector512.Load(r0 + j), w1 = Vector512.Load(r1 + j);
                Vector512.Store(Vector512.FusedMultiplyAdd(c01, w1, Vector512.FusedMultiplyAdd(c00, w0, Vector512.Load(y0 + j))), y0 + j);
                Vector512.Store(Vector512.FusedMultiplyAdd(c11, w1, Vector512.FusedMultiplyAdd(c10, w0, Vector512.Load(y1 + j))), y1 + j);
                Vector512.Store(Vector512.FusedMultiplyAdd(c21, w1, Vector512.FusedMultiplyAdd(c20, w0, Vector512.Load(y2 + j))), y2 + j);
                Vector512.Store(Vector512.FusedMultiplyAdd(c31, w1, Vector512.FusedMultiplyAdd(c30, w0, Vector512.Load(y3 + j))), y3 + j);
            }
            for (; j < j1; j++)
            {
                float w0 = r0[j], w1 = r1[j];
                y0[j] += x0[q] * w0 + x0[q + 1] * w1; y1[j] += x1[q] * w0 + x1[q + 1] * w1;
                y2[j] += x2[q] * w0 + x2[q + 1] * w1; y3[j] += x3[q] * w0 + x3[q + 1] * w1;
            }
        }
        for (; q < k; q++)
        {
            float* r0 = b + (long)q * n;
            for (int j = j0; j < j1; j++)
            {
                float w0 = r0[j];
                y0[j] += x0[q] * w0; y1[j] += x1[q] * w0; y2[j] += x2[q] * w0; y3[j] += x3[q] * w0;
            }
        }
    }
}
