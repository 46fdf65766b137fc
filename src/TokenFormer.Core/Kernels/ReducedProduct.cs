using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// C[m, N] (+)= A[m, K]·Wᵀ over a <see cref="ReducedMatrix"/> W: [N, K] (twin: <see cref="ReducedProductReference"/>).
/// <para>1–8 rows (decode, the serving batches): every thread streams its own contiguous part of W, 64 rows at a time
/// (<see cref="StealingRanges"/>: a thread done early takes blocks from the back of another's part), widens each
/// stretch of 16 values in registers (bfloat16: zero-extend and shift; int8: sign-extend, convert, times the block's
/// scale). One row has its own kernel with two accumulators. 2–8 rows take four rows of W against four rows of A at a
/// time (AVX-512; two rows of W on AVX2), prefetching the next four rows of W; a fifth to eighth row of A streams the
/// block of W a second time (then in L2); rows of W left over take the row-at-a-time kernels.</para>
/// <para>More rows (prefill, scoring): one call of Core's GEMM (NT) over all of W, which widens each block of W to
/// float32 while it packs it (<see cref="ReducedPacking"/>), so the work per weight is that of the float32 model plus
/// the widening, and A is packed once. The scalar path widens W into float32 panels first.</para>
/// <para>4-bit weights (<see cref="ReducedFormat.Int4Block32"/>) take <see cref="Int4RowKernel"/> for 1–8 rows.</para>
/// AVX-512 and AVX2 (FMA) paths, and a scalar one; <see cref="SimdPaths.Current"/> picks.
/// </summary>
internal sealed unsafe class ReducedProduct : IParallelWork
{
    /// <summary>
    /// How one row runs over int8 weights: widen the weights to float32 in registers (default), or quantise the activation
    /// row per block of 32 to int8 and take integer dot products (AVX2 <c>vpmaddubsw</c>/<c>vpmaddwd</c>: .NET exposes no
    /// VNNI this CPU runs; docs/quantization.md). Set by <c>TOKENFORMER_INT8_DOT=integer</c> or by benchmarks.
    /// </summary>
    public static Int8DotMode Int8Dot { get; set; } =
        Environment.GetEnvironmentVariable("TOKENFORMER_INT8_DOT") is "integer" ? Int8DotMode.Integer : Int8DotMode.Float;

    /// <summary>
    /// How far ahead (bytes) the one-row int8 kernels prefetch their weights into L2 (<c>TOKENFORMER_INT8_PREFETCH</c>;
    /// 0: off). The kernels widen slower than memory delivers once the weights are on huge pages, and the hardware
    /// prefetcher alone then leaves them waiting; 4 KiB ahead made int8 decode faster: AVX-512 1.00–1.28× (median
    /// 1.12×), AVX2 0.98–1.13× (median 1.07×) (docs/quantization.md "With the weights on huge pages"). Since each
    /// thread streams one contiguous part of W (<see cref="StealingRanges"/>), 8 KiB ahead beats 4 (AVX-512 and AVX2
    /// alike, docs/quantization.md "One stream per thread"). The bf16 kernel measured no gain from it.
    /// </summary>
    internal static readonly int Int8PrefetchBytes = int.TryParse(Environment.GetEnvironmentVariable("TOKENFORMER_INT8_PREFETCH"), out int b) ? b : 8192;

    /// <summary>Use the 512-bit four-row int8 kernel (off: it measured slower than the 256-bit one; tests turn it on to check it).</summary>
    internal static bool UseInt8Dot4V512;

    /// <summary>How products of 2–8 rows run (default: blocked over rows of W; <c>TOKENFORMER_BATCH_KERNEL=row</c>, tests and <c>bench kernels</c> switch it).</summary>
    internal static BatchKernelMode BatchKernel =
        Environment.GetEnvironmentVariable("TOKENFORMER_BATCH_KERNEL") is "row" ? BatchKernelMode.RowByRow : BatchKernelMode.Blocked;

    /// <summary>The 4×4 kernels prefetch the next group of rows of W (<c>TOKENFORMER_PREFETCH=0</c> turns it off, to compare).</summary>
    internal static readonly bool Prefetch = Environment.GetEnvironmentVariable("TOKENFORMER_PREFETCH") != "0";

    /// <summary>Blocked int8 products on AVX-512 machines use the 512-bit 4×4 kernel (else the 256-bit 2×4 one).</summary>
    internal static bool UseInt8Blocked512 = true;

    private sbyte[] _xq = [];
    private byte[] _xa = [];
    private float[] _xs = [];
    /// <summary>Most rows the streaming path takes; more go through the widened GEMM.</summary>
    public const int MaxStreamRows = 8;
    private const int RowBlock = 64;
    private const int PanelFloats = 1 << 20;

    [ThreadStatic] private static ReducedProduct? _current;
    private readonly StealingRanges _steal = new();
    private readonly ReducedPacking _packing = new();

    private float[] _zero = [];
    private float[] _panel = [];
    private readonly float[] _sink = new float[RowBlock];
    private ReducedMatrix _w = null!;
    private float[] _a = null!, _c = null!;
    private int _aOff, _lda, _cOff, _ldc, _m, _panelRow0, _panelRows;
    private bool _accumulate, _widen, _integer;
    private SimdPath _path;

    /// <summary>Validates the operands and runs the product on <paramref name="path"/>.</summary>
    public static void Run(ReducedMatrix w, int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate, SimdPath path)
    {
        int k = w.Columns, n = w.Rows;
        if (m < 0 || lda < k || ldc < n || aOffset < 0 || cOffset < 0)
            throw new ArgumentException($"reduced product [{m}, {k}]·[{n}, {k}]ᵀ: lda {lda} must be ≥ {k} and ldc {ldc} ≥ {n}");
        if (m == 0 || n == 0) return;
        if ((long)aOffset + (long)(m - 1) * lda + k > a.Length || (long)cOffset + (long)(m - 1) * ldc + n > c.Length)
            throw new ArgumentException($"reduced product [{m}, {k}]·[{n}, {k}]ᵀ: an operand is shorter than its shape");
        if (!SimdPaths.IsSupported(path)) throw new ArgumentException($"SIMD path {path} is not supported by this CPU");
        ReducedProduct p = _current ??= new ReducedProduct();
        if (m <= MaxStreamRows) p.Stream(w, m, a, aOffset, lda, c, cOffset, ldc, accumulate, path);
        else p.Widened(w, m, a, aOffset, lda, c, cOffset, ldc, accumulate, path);
    }

    private void Stream(ReducedMatrix w, int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate, SimdPath path)
    {
        if (_zero.Length < w.Columns) _zero = new float[w.Columns];
        _w = w; _m = m; _a = a; _aOff = aOffset; _lda = lda; _c = c; _cOff = cOffset; _ldc = ldc; _accumulate = accumulate; _path = path;
        _widen = false;
        _integer = m == 1 && w.Format == ReducedFormat.Int8Block32 && Int8Dot == Int8DotMode.Integer && path != SimdPath.Scalar;
        if (_integer) QuantizeActivations(a, aOffset, w.Columns);
        // one linear stream of W per thread (docs/quantization.md, "One stream per thread"); small products on one
        _steal.Set(w.Rows, RowBlock, (long)m * w.Rows * w.Columns < 1 << 15 ? 1 : Parallelism.ThreadCount);
        Parallelism.For(_steal.Count, this);
        _w = null!; _a = _c = null!;
    }

    private void Widened(ReducedMatrix w, int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate, SimdPath path)
    {
        int k = w.Columns, n = w.Rows;
        if (path != SimdPath.Scalar)
        {
            // one GEMM over all of W, which widens each block of W while it packs it (ReducedPacking)
            _packing.Matrix = w;
            try
            {
                fixed (float* pa = a, pc = c)
                {
                    var problem = new GemmProblem(GemmForm.NT, m, k, n, pa + aOffset, lda, _packing, pc + cOffset, ldc, 1f, accumulate,
                        path == SimdPath.Vector512 ? GemmIsa.Avx512 : GemmIsa.Avx2);
                    Gemm.Run(in problem, allowThreads: true);
                }
            }
            finally { _packing.Matrix = null; }
            return;
        }
        // scalar machines: widen W into float32 panels, then Core's (scalar) GEMM
        // a short prompt's product is small beside the widening, so a quarter of the panel serves it as well; only
        // long prefills need the larger panel (fewer GEMM calls, each packing A once) — this keeps a short generation's
        // scratch at 1 MiB instead of 4 (docs/quantization.md, Resident memory)
        int panelFloats = m >= 128 ? PanelFloats : PanelFloats / 4;
        int panelRows = Math.Max(32, panelFloats / Math.Max(1, k) / 32 * 32);
        panelRows = Math.Min(panelRows, n);
        if (_panel.Length < panelRows * k) _panel = new float[panelRows * k];
        _w = w; _widen = true; _path = path;
        try
        {
            for (int j0 = 0; j0 < n; j0 += panelRows)
            {
                int rows = Math.Min(panelRows, n - j0);
                _panelRow0 = j0; _panelRows = rows;
                Parallelism.For((rows + RowBlock - 1) / RowBlock, this);
                Gemm.Compute(GemmForm.NT, m, k, rows, a.AsSpan(aOffset), lda, _panel.AsSpan(0, rows * k), k,
                    c.AsSpan(cOffset + j0), ldc, 1f, accumulate);
            }
        }
        finally { _w = null!; }
    }

    public void Execute(int index)
    {
        if (_widen) { WidenRows(index); return; }
        while (_steal.TryClaim(index, out int start, out int end)) RunRows(start, end);
    }

    /// <summary>Rows [j0, j1) of W (at most <see cref="RowBlock"/>) against the 1–8 rows of A.</summary>
    private void RunRows(int j0, int j1)
    {
        int k = _w.Columns;
        fixed (float* a = _a, c = _c, zero = _zero, sink = _sink)
        {
            if (_w.Format == ReducedFormat.Int4Block32)
            {
                Int4RowKernel.Run(_w, j0, j1, _m, a + _aOff, _lda, c + _cOff, _ldc, _accumulate, _path);
                return;
            }
            if (_integer)
            {
                fixed (sbyte* xq = _xq) fixed (byte* xa = _xa) fixed (float* xs = _xs)
                    Int8Row1Integer(_w, j0, j1, xq, xa, xs, c + _cOff, _accumulate);
                return;
            }
            for (int m0 = 0; m0 < _m; m0 += 4)
            {
                int rows = Math.Min(4, _m - m0);
                float* x0 = a + _aOff + (long)m0 * _lda;
                float* y0 = c + _cOff + (long)m0 * _ldc;
                if (rows == 1 && _path == SimdPath.Vector512)
                {
                    if (_w.Format == ReducedFormat.BFloat16) Bf16Row1V512(_w, j0, j1, x0, y0, _accumulate);
                    else Int8Row1V512(_w, j0, j1, x0, y0, _accumulate);
                    continue;
                }
                if (rows == 1 && _path == SimdPath.Vector256)
                {
                    if (_w.Format == ReducedFormat.BFloat16) Bf16Row1V256(_w, j0, j1, x0, y0, _accumulate);
                    else Int8Row1V256(_w, j0, j1, x0, y0, _accumulate);
                    continue;
                }
                // rows past M read zeros and write into a sink, so one body serves 1–4 rows
                float* x1 = rows > 1 ? x0 + _lda : zero, x2 = rows > 2 ? x0 + 2L * _lda : zero, x3 = rows > 3 ? x0 + 3L * _lda : zero;
                float* y1 = rows > 1 ? y0 + _ldc : sink - j0, y2 = rows > 2 ? y0 + 2L * _ldc : sink - j0, y3 = rows > 3 ? y0 + 3L * _ldc : sink - j0;
                int jb = Blocked(j0, j1, x0, x1, x2, x3, y0, y1, y2, y3);
                for (int j = jb; j < j1; j++)
                {
                    float s0, s1, s2, s3;
                    if (_w.Format == ReducedFormat.BFloat16)
                    {
                        fixed (ushort* wb = _w.Bf16)
                        {
                            ushort* row = wb + _w.Offset + (long)j * k;
                            if (_path == SimdPath.Vector512) Bf16Dot4V512(row, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
                            else if (_path == SimdPath.Vector256) Bf16Dot4V256(row, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
                            else Bf16Dot4Scalar(row, 0, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
                        }
                    }
                    else
                    {
                        fixed (sbyte* wq = _w.Quants)
                        fixed (float* ws = _w.Scales)
                        {
                            sbyte* row = wq + _w.Offset + (long)j * k;
                            float* scales = ws + _w.ScaleOffset + (long)j * _w.BlocksPerRow;
                            // measured (docs/quantization.md, bench kernels weights-batch4): the 256-bit four-row kernel
                            // runs 2.6x faster than the 512-bit one on Zen 4, so both paths use it; Int8Dot4V512 stays for study
                            if (_path == SimdPath.Vector512 && UseInt8Dot4V512) Int8Dot4V512(row, scales, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
                            else if (_path >= SimdPath.Vector256) Int8Dot4V256(row, scales, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
                            else Int8Dot4Scalar(row, scales, 0, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
                        }
                    }
                    if (_accumulate) { y0[j] += s0; y1[j] += s1; y2[j] += s2; y3[j] += s3; }
                    else { y0[j] = s0; y1[j] = s1; y2[j] = s2; y3[j] = s3; }
                }
            }
        }
    }

    /// <summary>
    /// Rows [j0, …) of W in groups of four (AVX-512) or two (AVX2) against four rows of A: every widened weight vector
    /// feeds four multiply-adds and every activation vector loaded feeds two to four, so the product is bound by the
    /// multiply-adds rather than by loads and the widening (docs/quantization.md, Batched decode). Returns the first
    /// row left for the row-at-a-time kernels (the rest of the block when it is not a multiple of the group).
    /// </summary>
    private int Blocked(int j0, int j1, float* x0, float* x1, float* x2, float* x3, float* y0, float* y1, float* y2, float* y3)
    {
        if (BatchKernel == BatchKernelMode.RowByRow || _path == SimdPath.Scalar) return j0;
        int k = _w.Columns;
        bool wide = _path == SimdPath.Vector512 && (_w.Format == ReducedFormat.BFloat16 || UseInt8Blocked512);
        int group = wide ? 4 : 2;
        float* r = stackalloc float[16];
        int j = j0;
        for (; j + group <= j1; j += group)
        {
            if (_w.Format == ReducedFormat.BFloat16)
            {
                fixed (ushort* wb = _w.Bf16)
                {
                    ushort* row = wb + _w.Offset + (long)j * k;
                    if (wide) Bf16Block4x4V512(row, k, x0, x1, x2, x3, r);
                    else Bf16Block2x4V256(row, k, x0, x1, x2, x3, r);
                }
            }
            else
            {
                fixed (sbyte* wq = _w.Quants)
                fixed (float* ws = _w.Scales)
                {
                    sbyte* row = wq + _w.Offset + (long)j * k;
                    float* scales = ws + _w.ScaleOffset + (long)j * _w.BlocksPerRow;
                    if (wide) Int8Block4x4V512(row, scales, k, _w.BlocksPerRow, x0, x1, x2, x3, r);
                    else Int8Block2x4V256(row, scales, k, _w.BlocksPerRow, x0, x1, x2, x3, r);
                }
            }
            // r[g·4 + i]: row j + g of W against row i of A
            for (int g = 0; g < group; g++)
            {
                int jj = j + g;
                if (_accumulate) { y0[jj] += r[4 * g]; y1[jj] += r[4 * g + 1]; y2[jj] += r[4 * g + 2]; y3[jj] += r[4 * g + 3]; }
                else { y0[jj] = r[4 * g]; y1[jj] = r[4 * g + 1]; y2[jj] = r[4 * g + 2]; y3[jj] = r[4 * g + 3]; }
            }
        }
        return j;
    }

    /// <summary>Widens rows [index·64, …) of the current panel into float32.</summary>
    private void WidenRows(int index)
    {
        int k = _w.Columns;
        int r0 = index * RowBlock, r1 = Math.Min(_panelRows, r0 + RowBlock);
        for (int r = r0; r < r1; r++) _w.DequantizeRow(_panelRow0 + r, _panel.AsSpan(r * k, k));
    }

    /// <summary>The activation row as int8 per block of 32 (the same rounding as the weights): signs, magnitudes, scales.</summary>
    private void QuantizeActivations(float[] a, int aOffset, int k)
    {
        int blocks = Int8Blocks.BlocksPerRow(k), padded = blocks * Int8Blocks.BlockSize;
        if (_xq.Length < padded) { _xq = new sbyte[padded]; _xa = new byte[padded]; }
        if (_xs.Length < blocks) _xs = new float[blocks];
        QuantizeActivationRow(a.AsSpan(aOffset, k), _xq.AsSpan(0, padded), _xs.AsSpan(0, blocks));
        for (int i = 0; i < padded; i++) _xa[i] = (byte)Math.Abs((int)_xq[i]);
    }

    /// <summary>x [K] → int8 [⌈K/32⌉·32] (zero-padded) and one scale per block; shared with the reference twin.</summary>
    internal static void QuantizeActivationRow(ReadOnlySpan<float> x, Span<sbyte> quants, Span<float> scales)
    {
        int k = x.Length;
        quants.Clear();
        Int8Blocks.QuantizeRow(x, quants[..k], scales);
    }

    /// <summary>
    /// One row of A (quantised: signs <paramref name="xq"/>, magnitudes <paramref name="xa"/>, scales <paramref name="xs"/>)
    /// against int8 rows [j0, j1) of W: per block, Σ |x_q|·(w_q·sign x_q) with vpmaddubsw (pairs stay within int16:
    /// 2·127·127 &lt; 32768) and vpmaddwd, then times s_x·s_w into a float accumulator. Partial last blocks read the
    /// zero padding of the activations, so the weights past K (the next row's) add nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int8Row1Integer(ReducedMatrix w, int j0, int j1, sbyte* xq, byte* xa, float* xs, float* y, bool accumulate)
    {
        int k = w.Columns, blocks = w.BlocksPerRow, full = k / Int8Blocks.BlockSize;
        var ones = Vector256.Create((short)1);
        fixed (sbyte* wq = w.Quants)
        fixed (float* ws = w.Scales)
        {
            for (int j = j0; j < j1; j++)
            {
                sbyte* row = wq + w.Offset + (long)j * k;
                float* scales = ws + w.ScaleOffset + (long)j * blocks;
                Vector256<float> acc0 = default, acc1 = default;
                int b = 0;
                for (; b + 2 <= full; b += 2)
                {
                    int q = b * 32;
                    Vector256<sbyte> w0 = Avx2.Sign(Vector256.Load(row + q), Vector256.Load(xq + q));
                    Vector256<sbyte> w1 = Avx2.Sign(Vector256.Load(row + q + 32), Vector256.Load(xq + q + 32));
                    Vector256<int> d0 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Load(xa + q), w0), ones);
                    Vector256<int> d1 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Load(xa + q + 32), w1), ones);
                    acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d0), Vector256.Create(scales[b] * xs[b]), acc0);
                    acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d1), Vector256.Create(scales[b + 1] * xs[b + 1]), acc1);
                }
                for (; b < full; b++)
                {
                    int q = b * 32;
                    Vector256<sbyte> w0 = Avx2.Sign(Vector256.Load(row + q), Vector256.Load(xq + q));
                    Vector256<int> d0 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Load(xa + q), w0), ones);
                    acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d0), Vector256.Create(scales[b] * xs[b]), acc0);
                }
                float s = Vector256.Sum(acc0 + acc1);
                for (; b < blocks; b++)
                {
                    int dot = 0;
                    for (int q = b * 32; q < k; q++) dot += xq[q] * row[q];
                    s += dot * (scales[b] * xs[b]);
                }
                if (accumulate) y[j] += s; else y[j] = s;
            }
        }
    }

    // ---------------------------------------------------------------- bfloat16 kernels

    /// <summary>One row of A against rows [j0, j1) of W (AVX-512; two accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Row1V512(ReducedMatrix w, int j0, int j1, float* x, float* y, bool accumulate)
    {
        int k = w.Columns;
        fixed (ushort* wb = w.Bf16)
        {
            for (int j = j0; j < j1; j++)
            {
                ushort* row = wb + w.Offset + (long)j * k;
                Vector512<float> acc0 = default, acc1 = default;
                int q = 0;
                for (; q + 32 <= k; q += 32)
                {
                    Vector512<float> w0 = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load(row + q)), 16).AsSingle();
                    Vector512<float> w1 = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load(row + q + 16)), 16).AsSingle();
                    acc0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + q), w0, acc0);
                    acc1 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + q + 16), w1, acc1);
                }
                for (; q + 16 <= k; q += 16)
                    acc0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + q), Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load(row + q)), 16).AsSingle(), acc0);
                float s = Vector512.Sum(acc0 + acc1);
                for (; q < k; q++) s += x[q] * BitConverter.Int32BitsToSingle(row[q] << 16);
                if (accumulate) y[j] += s; else y[j] = s;
            }
        }
    }

    /// <summary>
    /// One row of A against rows [j0, j1) of W (AVX2; two accumulators). Without it a single row took the 1–4-row body
    /// with three rows of zeros: four multiply-adds per widened vector where one is needed (docs/quantization.md).
    /// The one-row kernels are written out per width: one generic body over <see cref="IFloatVector{TV}"/> (and, in
    /// another try, shared row loops calling per-width dot products) measured 10–25 % slower with the weights in cache.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Row1V256(ReducedMatrix w, int j0, int j1, float* x, float* y, bool accumulate)
    {
        int k = w.Columns;
        fixed (ushort* wb = w.Bf16)
        {
            for (int j = j0; j < j1; j++)
            {
                ushort* row = wb + w.Offset + (long)j * k;
                Vector256<float> acc0 = default, acc1 = default;
                int q = 0;
                for (; q + 16 <= k; q += 16)
                {
                    acc0 = Fma.MultiplyAdd(Vector256.Load(x + q), WidenBf16V256(row + q), acc0);
                    acc1 = Fma.MultiplyAdd(Vector256.Load(x + q + 8), WidenBf16V256(row + q + 8), acc1);
                }
                for (; q + 8 <= k; q += 8) acc0 = Fma.MultiplyAdd(Vector256.Load(x + q), WidenBf16V256(row + q), acc0);
                float s = Vector256.Sum(acc0 + acc1);
                for (; q < k; q++) s += x[q] * BitConverter.Int32BitsToSingle(row[q] << 16);
                if (accumulate) y[j] += s; else y[j] = s;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Dot4V512(ushort* row, int k, float* x0, float* x1, float* x2, float* x3, out float s0, out float s1, out float s2, out float s3)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int q = 0;
        for (; q + 16 <= k; q += 16)
        {
            Vector512<float> w = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load(row + q)), 16).AsSingle();
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x0 + q), w, a0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(x1 + q), w, a1);
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(x2 + q), w, a2);
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(x3 + q), w, a3);
        }
        Bf16Dot4Scalar(row, q, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
        s0 += Vector512.Sum(a0); s1 += Vector512.Sum(a1); s2 += Vector512.Sum(a2); s3 += Vector512.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Dot4V256(ushort* row, int k, float* x0, float* x1, float* x2, float* x3, out float s0, out float s1, out float s2, out float s3)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int q = 0;
        for (; q + 8 <= k; q += 8)
        {
            Vector256<float> w = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(row + q), 16).AsSingle();
            a0 = Fma.MultiplyAdd(Vector256.Load(x0 + q), w, a0);
            a1 = Fma.MultiplyAdd(Vector256.Load(x1 + q), w, a1);
            a2 = Fma.MultiplyAdd(Vector256.Load(x2 + q), w, a2);
            a3 = Fma.MultiplyAdd(Vector256.Load(x3 + q), w, a3);
        }
        Bf16Dot4Scalar(row, q, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
        s0 += Vector256.Sum(a0); s1 += Vector256.Sum(a1); s2 += Vector256.Sum(a2); s3 += Vector256.Sum(a3);
    }

    private static void Bf16Dot4Scalar(ushort* row, int q0, int k, float* x0, float* x1, float* x2, float* x3, out float s0, out float s1, out float s2, out float s3)
    {
        s0 = s1 = s2 = s3 = 0;
        for (int q = q0; q < k; q++)
        {
            float w = BitConverter.Int32BitsToSingle(row[q] << 16);
            s0 += x0[q] * w; s1 += x1[q] * w; s2 += x2[q] * w; s3 += x3[q] * w;
        }
    }

    /// <summary>
    /// The sums of four vectors, stored to r[0…3]: halves folded (512 → 256 → 128 bits), then two rounds of pairwise
    /// horizontal adds — about a fifth of the instructions of four <see cref="Vector512.Sum{T}"/> (which the JIT expands
    /// into a fixed-order tree per vector; at K = 768 those made up about a quarter of a blocked kernel's work).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sum4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float* r) =>
        Sum4(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper(), c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper(), r);

    /// <summary>The sums of four 256-bit vectors, stored to r[0…3] (see the 512-bit overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sum4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, float* r)
    {
        Vector128<float> ab = Sse3.HorizontalAdd(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper());
        Vector128<float> cd = Sse3.HorizontalAdd(c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());
        Vector128.Store(Sse3.HorizontalAdd(ab, cd), r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> WidenBf16V512(ushort* p) => Float512.LoadBFloat16(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> WidenBf16V256(ushort* p) => Float256.LoadBFloat16(p);

    /// <summary>
    /// Four rows of W (row stride k) against four rows of A: sixteen accumulators, one widened weight vector and four
    /// activation vectors live at a time (21 of the 32 registers). r[g·4 + i] = W[g]·x_i.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Block4x4V512(ushort* w0, int k, float* x0, float* x1, float* x2, float* x3, float* r)
    {
        ushort* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        int q = 0;
        // the next four rows (8·k bytes from w0 + 4k on) are fetched into the cache while these are multiplied: 128
        // bytes a step, so the next group is in flight by the time this one ends (streaming the weights from memory
        // otherwise waits on four interleaved streams); a prefetch past the matrix is harmless
        byte* next = (byte*)(w0 + 4L * k);
        for (; q + 16 <= k; q += 16)
        {
            if (Prefetch) { Sse.Prefetch0(next + 8L * q); Sse.Prefetch0(next + 8L * q + 64); }
            Vector512<float> v0 = Vector512.Load(x0 + q), v1 = Vector512.Load(x1 + q), v2 = Vector512.Load(x2 + q), v3 = Vector512.Load(x3 + q);
            Vector512<float> b = WidenBf16V512(w0 + q);
            a00 = Avx512F.FusedMultiplyAdd(v0, b, a00); a01 = Avx512F.FusedMultiplyAdd(v1, b, a01);
            a02 = Avx512F.FusedMultiplyAdd(v2, b, a02); a03 = Avx512F.FusedMultiplyAdd(v3, b, a03);
            b = WidenBf16V512(w1 + q);
            a10 = Avx512F.FusedMultiplyAdd(v0, b, a10); a11 = Avx512F.FusedMultiplyAdd(v1, b, a11);
            a12 = Avx512F.FusedMultiplyAdd(v2, b, a12); a13 = Avx512F.FusedMultiplyAdd(v3, b, a13);
            b = WidenBf16V512(w2 + q);
            a20 = Avx512F.FusedMultiplyAdd(v0, b, a20); a21 = Avx512F.FusedMultiplyAdd(v1, b, a21);
            a22 = Avx512F.FusedMultiplyAdd(v2, b, a22); a23 = Avx512F.FusedMultiplyAdd(v3, b, a23);
            b = WidenBf16V512(w3 + q);
            a30 = Avx512F.FusedMultiplyAdd(v0, b, a30); a31 = Avx512F.FusedMultiplyAdd(v1, b, a31);
            a32 = Avx512F.FusedMultiplyAdd(v2, b, a32); a33 = Avx512F.FusedMultiplyAdd(v3, b, a33);
        }
        Sum4(a00, a01, a02, a03, r); Sum4(a10, a11, a12, a13, r + 4); Sum4(a20, a21, a22, a23, r + 8); Sum4(a30, a31, a32, a33, r + 12);
        for (; q < k; q++)
            for (int g = 0; g < 4; g++)
            {
                float w = BitConverter.Int32BitsToSingle(w0[g * (long)k + q] << 16);
                r[4 * g] += x0[q] * w; r[4 * g + 1] += x1[q] * w; r[4 * g + 2] += x2[q] * w; r[4 * g + 3] += x3[q] * w;
            }
    }

    /// <summary>Two rows of W against four rows of A with 256-bit vectors (AVX2 has 16 registers: 8 accumulators). r[g·4 + i] = W[g]·x_i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Block2x4V256(ushort* w0, int k, float* x0, float* x1, float* x2, float* x3, float* r)
    {
        ushort* w1 = w0 + k;
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        int q = 0;
        for (; q + 8 <= k; q += 8)
        {
            Vector256<float> v0 = Vector256.Load(x0 + q), v1 = Vector256.Load(x1 + q), v2 = Vector256.Load(x2 + q), v3 = Vector256.Load(x3 + q);
            Vector256<float> b0 = WidenBf16V256(w0 + q), b1 = WidenBf16V256(w1 + q);
            a00 = Fma.MultiplyAdd(v0, b0, a00); a01 = Fma.MultiplyAdd(v1, b0, a01); a02 = Fma.MultiplyAdd(v2, b0, a02); a03 = Fma.MultiplyAdd(v3, b0, a03);
            a10 = Fma.MultiplyAdd(v0, b1, a10); a11 = Fma.MultiplyAdd(v1, b1, a11); a12 = Fma.MultiplyAdd(v2, b1, a12); a13 = Fma.MultiplyAdd(v3, b1, a13);
        }
        Sum4(a00, a01, a02, a03, r); Sum4(a10, a11, a12, a13, r + 4);
        for (; q < k; q++)
            for (int g = 0; g < 2; g++)
            {
                float w = BitConverter.Int32BitsToSingle(w0[g * (long)k + q] << 16);
                r[4 * g] += x0[q] * w; r[4 * g + 1] += x1[q] * w; r[4 * g + 2] += x2[q] * w; r[4 * g + 3] += x3[q] * w;
            }
    }

    // ---------------------------------------------------------------- int8 kernels

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> WidenInt8V512(sbyte* p, float scale) => Float512.LoadInt8(p) * Vector512.Create(scale);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> WidenInt8V256(sbyte* p, float scale) => Float256.LoadInt8(p) * Vector256.Create(scale);

    /// <summary>
    /// Four int8 rows of W (row stride k, scales stride <paramref name="blocks"/>) against four rows of A: each stretch of
    /// 16 weights is widened and scaled once and feeds four multiply-adds. r[g·4 + i] = W[g]·x_i.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int8Block4x4V512(sbyte* w0, float* s0, int k, int blocks, float* x0, float* x1, float* x2, float* x3, float* r)
    {
        sbyte* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        float* s1 = s0 + blocks, s2 = s1 + blocks, s3 = s2 + blocks;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        int q = 0;
        // the next four rows (4·k bytes) are fetched while these are multiplied, 64 bytes a step (see the bf16 kernel)
        byte* next = (byte*)(w0 + 4L * k);
        for (; q + 16 <= k; q += 16)
        {
            if (Prefetch) Sse.Prefetch0(next + 4L * q);
            int blk = q >> 5;
            Vector512<float> v0 = Vector512.Load(x0 + q), v1 = Vector512.Load(x1 + q), v2 = Vector512.Load(x2 + q), v3 = Vector512.Load(x3 + q);
            Vector512<float> b = WidenInt8V512(w0 + q, s0[blk]);
            a00 = Avx512F.FusedMultiplyAdd(v0, b, a00); a01 = Avx512F.FusedMultiplyAdd(v1, b, a01);
            a02 = Avx512F.FusedMultiplyAdd(v2, b, a02); a03 = Avx512F.FusedMultiplyAdd(v3, b, a03);
            b = WidenInt8V512(w1 + q, s1[blk]);
            a10 = Avx512F.FusedMultiplyAdd(v0, b, a10); a11 = Avx512F.FusedMultiplyAdd(v1, b, a11);
            a12 = Avx512F.FusedMultiplyAdd(v2, b, a12); a13 = Avx512F.FusedMultiplyAdd(v3, b, a13);
            b = WidenInt8V512(w2 + q, s2[blk]);
            a20 = Avx512F.FusedMultiplyAdd(v0, b, a20); a21 = Avx512F.FusedMultiplyAdd(v1, b, a21);
            a22 = Avx512F.FusedMultiplyAdd(v2, b, a22); a23 = Avx512F.FusedMultiplyAdd(v3, b, a23);
            b = WidenInt8V512(w3 + q, s3[blk]);
            a30 = Avx512F.FusedMultiplyAdd(v0, b, a30); a31 = Avx512F.FusedMultiplyAdd(v1, b, a31);
            a32 = Avx512F.FusedMultiplyAdd(v2, b, a32); a33 = Avx512F.FusedMultiplyAdd(v3, b, a33);
        }
        Sum4(a00, a01, a02, a03, r); Sum4(a10, a11, a12, a13, r + 4); Sum4(a20, a21, a22, a23, r + 8); Sum4(a30, a31, a32, a33, r + 12);
        for (; q < k; q++)
            for (int g = 0; g < 4; g++)
            {
                float w = s0[g * (long)blocks + (q >> 5)] * w0[g * (long)k + q];
                r[4 * g] += x0[q] * w; r[4 * g + 1] += x1[q] * w; r[4 * g + 2] += x2[q] * w; r[4 * g + 3] += x3[q] * w;
            }
    }

    /// <summary>Two int8 rows of W against four rows of A with 256-bit vectors. r[g·4 + i] = W[g]·x_i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int8Block2x4V256(sbyte* w0, float* s0, int k, int blocks, float* x0, float* x1, float* x2, float* x3, float* r)
    {
        sbyte* w1 = w0 + k;
        float* s1 = s0 + blocks;
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        int q = 0;
        for (; q + 8 <= k; q += 8)
        {
            int blk = q >> 5;
            Vector256<float> v0 = Vector256.Load(x0 + q), v1 = Vector256.Load(x1 + q), v2 = Vector256.Load(x2 + q), v3 = Vector256.Load(x3 + q);
            Vector256<float> b0 = WidenInt8V256(w0 + q, s0[blk]), b1 = WidenInt8V256(w1 + q, s1[blk]);
            a00 = Fma.MultiplyAdd(v0, b0, a00); a01 = Fma.MultiplyAdd(v1, b0, a01); a02 = Fma.MultiplyAdd(v2, b0, a02); a03 = Fma.MultiplyAdd(v3, b0, a03);
            a10 = Fma.MultiplyAdd(v0, b1, a10); a11 = Fma.MultiplyAdd(v1, b1, a11); a12 = Fma.MultiplyAdd(v2, b1, a12); a13 = Fma.MultiplyAdd(v3, b1, a13);
        }
        Sum4(a00, a01, a02, a03, r); Sum4(a10, a11, a12, a13, r + 4);
        for (; q < k; q++)
            for (int g = 0; g < 2; g++)
            {
                float w = s0[g * (long)blocks + (q >> 5)] * w0[g * (long)k + q];
                r[4 * g] += x0[q] * w; r[4 * g + 1] += x1[q] * w; r[4 * g + 2] += x2[q] * w; r[4 * g + 3] += x3[q] * w;
            }
    }

    /// <summary>One row of A against rows [j0, j1) of W (AVX-512): per block Σ x·q, then times the block's scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int8Row1V512(ReducedMatrix w, int j0, int j1, float* x, float* y, bool accumulate)
    {
        int k = w.Columns, blocks = w.BlocksPerRow, pf = Int8PrefetchBytes;
        fixed (sbyte* wq = w.Quants)
        fixed (float* ws = w.Scales)
        {
            for (int j = j0; j < j1; j++)
            {
                sbyte* row = wq + w.Offset + (long)j * k;
                float* scales = ws + w.ScaleOffset + (long)j * blocks;
                Vector512<float> acc0 = default, acc1 = default;
                int q = 0;
                for (; q + 64 <= k; q += 64)
                {
                    if (pf != 0) Sse.Prefetch1(row + q + pf);
                    Vector512<float> b0 = Vector512.Load(x + q) * Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q)));
                    Vector512<float> b1 = Vector512.Load(x + q + 32) * Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q + 32)));
                    b0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + q + 16), Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q + 16))), b0);
                    b1 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + q + 48), Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q + 48))), b1);
                    acc0 = Avx512F.FusedMultiplyAdd(b0, Vector512.Create(scales[q >> 5]), acc0);
                    acc1 = Avx512F.FusedMultiplyAdd(b1, Vector512.Create(scales[(q >> 5) + 1]), acc1);
                }
                for (; q + 32 <= k; q += 32)
                {
                    Vector512<float> b0 = Vector512.Load(x + q) * Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q)));
                    b0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + q + 16), Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q + 16))), b0);
                    acc0 = Avx512F.FusedMultiplyAdd(b0, Vector512.Create(scales[q >> 5]), acc0);
                }
                float s = Vector512.Sum(acc0 + acc1);
                for (; q < k; q++) s += x[q] * (scales[q >> 5] * row[q]);
                if (accumulate) y[j] += s; else y[j] = s;
            }
        }
    }

    /// <summary>One row of A against rows [j0, j1) of W (AVX2): per block Σ x·q in two partial sums, then times the block's scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int8Row1V256(ReducedMatrix w, int j0, int j1, float* x, float* y, bool accumulate)
    {
        int k = w.Columns, blocks = w.BlocksPerRow, pf = Int8PrefetchBytes;
        fixed (sbyte* wq = w.Quants)
        fixed (float* ws = w.Scales)
        {
            for (int j = j0; j < j1; j++)
            {
                sbyte* row = wq + w.Offset + (long)j * k;
                float* scales = ws + w.ScaleOffset + (long)j * blocks;
                Vector256<float> acc0 = default, acc1 = default;
                int q = 0;
                for (; q + 32 <= k; q += 32)
                {
                    if (pf != 0 && (q & 63) == 0) Sse.Prefetch1(row + q + pf);
                    Vector256<float> b0 = Vector256.Load(x + q) * Float256.LoadInt8(row + q);
                    Vector256<float> b1 = Vector256.Load(x + q + 8) * Float256.LoadInt8(row + q + 8);
                    b0 = Fma.MultiplyAdd(Vector256.Load(x + q + 16), Float256.LoadInt8(row + q + 16), b0);
                    b1 = Fma.MultiplyAdd(Vector256.Load(x + q + 24), Float256.LoadInt8(row + q + 24), b1);
                    var scale = Vector256.Create(scales[q >> 5]);
                    acc0 = Fma.MultiplyAdd(b0, scale, acc0);
                    acc1 = Fma.MultiplyAdd(b1, scale, acc1);
                }
                float s = Vector256.Sum(acc0 + acc1);
                for (; q < k; q++) s += x[q] * (scales[q >> 5] * row[q]);
                if (accumulate) y[j] += s; else y[j] = s;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int8Dot4V512(sbyte* row, float* scales, int k, float* x0, float* x1, float* x2, float* x3, out float s0, out float s1, out float s2, out float s3)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int q = 0;
        for (; q + 32 <= k; q += 32)
        {
            var s = Vector512.Create(scales[q >> 5]);
            Vector512<float> w0 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q))) * s;
            Vector512<float> w1 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + q + 16))) * s;
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x0 + q + 16), w1, Avx512F.FusedMultiplyAdd(Vector512.Load(x0 + q), w0, a0));
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(x1 + q + 16), w1, Avx512F.FusedMultiplyAdd(Vector512.Load(x1 + q), w0, a1));
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(x2 + q + 16), w1, Avx512F.FusedMultiplyAdd(Vector512.Load(x2 + q), w0, a2));
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(x3 + q + 16), w1, Avx512F.FusedMultiplyAdd(Vector512.Load(x3 + q), w0, a3));
        }
        Int8Dot4Scalar(row, scales, q, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
        s0 += Vector512.Sum(a0); s1 += Vector512.Sum(a1); s2 += Vector512.Sum(a2); s3 += Vector512.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int8Dot4V256(sbyte* row, float* scales, int k, float* x0, float* x1, float* x2, float* x3, out float s0, out float s1, out float s2, out float s3)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int q = 0;
        for (; q + 32 <= k; q += 32)
        {
            var s = Vector256.Create(scales[q >> 5]);
            for (int h = q; h < q + 32; h += 8)
            {
                Vector256<float> w = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(row + h)) * s;
                a0 = Fma.MultiplyAdd(Vector256.Load(x0 + h), w, a0);
                a1 = Fma.MultiplyAdd(Vector256.Load(x1 + h), w, a1);
                a2 = Fma.MultiplyAdd(Vector256.Load(x2 + h), w, a2);
                a3 = Fma.MultiplyAdd(Vector256.Load(x3 + h), w, a3);
            }
        }
        Int8Dot4Scalar(row, scales, q, k, x0, x1, x2, x3, out s0, out s1, out s2, out s3);
        s0 += Vector256.Sum(a0); s1 += Vector256.Sum(a1); s2 += Vector256.Sum(a2); s3 += Vector256.Sum(a3);
    }

    private static void Int8Dot4Scalar(sbyte* row, float* scales, int q0, int k, float* x0, float* x1, float* x2, float* x3, out float s0, out float s1, out float s2, out float s3)
    {
        s0 = s1 = s2 = s3 = 0;
        for (int q = q0; q < k; q++)
        {
            float w = scales[q >> 5] * row[q];
            s0 += x0[q] * w; s1 += x1[q] * w; s2 += x2[q] * w; s3 += x3[q] * w;
        }
    }
}

/// <summary>How <see cref="ReducedProduct"/> runs products of 2–8 rows.</summary>
internal enum BatchKernelMode
{
    /// <summary>One row of W at a time against up to four rows of A (the first kernels; kept to compare).</summary>
    RowByRow,
    /// <summary>Four (AVX-512) or two (AVX2) rows of W at a time against four rows of A.</summary>
    Blocked,
}

/// <summary>How a one-row product over int8 weights is computed (<see cref="ReducedProduct.Int8Dot"/>).</summary>
public enum Int8DotMode
{
    /// <summary>Weights widened to float32 in registers; activations exact.</summary>
    Float,
    /// <summary>Activations quantised per block of 32 to int8; integer dot products per block.</summary>
    Integer,
}

/// <summary>The plain reference twin of <see cref="ReducedProduct"/>: every weight widened one by one, sums in double.</summary>
public static class ReducedProductReference
{
    /// <summary>The twin of the integer-dot row: x quantised per block exactly as the kernel does, then Σ_b s_x·s_w·Σ x_q·w_q.</summary>
    public static void MultiplyTransposedIntegerDot(ReducedMatrix w, float[] a, int aOffset, float[] c, int cOffset, bool accumulate)
    {
        int k = w.Columns, blocks = w.BlocksPerRow;
        var xq = new sbyte[blocks * Int8Blocks.BlockSize];
        var xs = new float[blocks];
        ReducedProduct.QuantizeActivationRow(a.AsSpan(aOffset, k), xq, xs);
        for (int j = 0; j < w.Rows; j++)
        {
            double s = 0;
            for (int b = 0; b < blocks; b++)
            {
                long dot = 0;
                for (int q = b * 32; q < Math.Min(k, b * 32 + 32); q++) dot += xq[q] * w.Quants![w.Offset + (long)j * k + q];
                s += dot * (double)(w.Scales![w.ScaleOffset + (long)j * blocks + b] * xs[b]);
            }
            c[cOffset + j] = accumulate ? (float)(c[cOffset + j] + s) : (float)s;
        }
    }

    /// <summary>C[m, N] (+)= A[m, K]·Wᵀ.</summary>
    public static void MultiplyTransposed(ReducedMatrix w, int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < w.Rows; j++)
            {
                double s = 0;
                for (int q = 0; q < w.Columns; q++) s += (double)a[aOffset + i * lda + q] * w.Value(j, q);
                int o = cOffset + i * ldc + j;
                c[o] = accumulate ? (float)(c[o] + s) : (float)s;
            }
    }
}
