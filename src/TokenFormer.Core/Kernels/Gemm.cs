using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Single-precision matrix multiplication: C = alpha·op(A)·op(B), or C += alpha·op(A)·op(B) when
/// accumulating. Cache-blocked and packed (BLIS loop order) with a register-tiled FMA micro-kernel
/// (Vector512 when the CPU has AVX-512, else Vector256 + FMA, else scalar), multi-threaded over
/// <see cref="Parallelism"/>, and a GEMV path for M = 1. Steady-state calls allocate nothing.
/// Shapes by form: NN A: [M,K], B: [K,N]; NT A: [M,K], B: [N,K]; TN A: [K,M], B: [K,N]; C: [M,N].
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// Below this many multiply-adds a call runs on one thread (fork-join and per-thread packing would cost
    /// more than they save). GEMV (M = 1) is bandwidth-bound, so it splits much earlier.
    /// </summary>
    private const long ParallelThreshold = 1L << 20, GemvParallelThreshold = 1L << 15;

    /// <summary>
    /// The instruction set the kernels use: the best the CPU supports, or a lower one named by the
    /// environment variable <c>TOKENFORMER_ISA</c> (scalar, avx2, avx512) for debugging.
    /// </summary>
    public static GemmIsa Isa { get; } = GemmIsaInfo.FromEnvironment();

    /// <summary>C[M,N] = alpha·A·B (+ C). A: [M,K], B: [K,N], all densely packed.</summary>
    public static void NN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
        float alpha = 1f, bool accumulate = false) =>
        Compute(GemmForm.NN, m, k, n, a, k, b, n, c, n, alpha, accumulate);

    /// <summary>C[M,N] = alpha·A·Bᵀ (+ C). A: [M,K], B: [N,K], all densely packed.</summary>
    public static void NT(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
        float alpha = 1f, bool accumulate = false) =>
        Compute(GemmForm.NT, m, k, n, a, k, b, k, c, n, alpha, accumulate);

    /// <summary>C[M,N] = alpha·Aᵀ·B (+ C). A: [K,M], B: [K,N], all densely packed.</summary>
    public static void TN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
        float alpha = 1f, bool accumulate = false) =>
        Compute(GemmForm.TN, m, k, n, a, m, b, n, c, n, alpha, accumulate);

    /// <summary>
    /// General form with leading dimensions (row strides, in floats).
    /// A: [M,K] (NN, NT) or [K,M] (TN) with stride lda; B: [K,N] (NN, TN) or [N,K] (NT) with stride ldb;
    /// C: [M,N] with stride ldc. Throws <see cref="ArgumentException"/> naming the shapes when dimensions are
    /// negative or inconsistent with the spans, or when C overlaps A or B.
    /// </summary>
    public static void Compute(GemmForm form, int m, int k, int n,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        float alpha = 1f, bool accumulate = false) =>
        Compute(form, m, k, n, a, lda, b, ldb, c, ldc, alpha, accumulate, Isa, allowThreads: true);

    /// <summary>As the public form, on a chosen instruction set and optionally single-threaded (tests).</summary>
    internal static void Compute(GemmForm form, int m, int k, int n,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        float alpha, bool accumulate, GemmIsa isa, bool allowThreads)
    {
        GemmArguments.Validate(form, m, k, n, a, lda, b, ldb, c, ldc);
        if (!GemmIsaInfo.IsSupported(isa)) throw new PlatformNotSupportedException($"this CPU does not support {isa}");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            var problem = new GemmProblem(form, m, k, n, pa, lda, pb, ldb, pc, ldc, alpha, accumulate, isa);
            Run(in problem, allowThreads);
        }
    }

    internal static void Run(in GemmProblem p, bool allowThreads)
    {
        if (p.BSource != null && p.Isa == GemmIsa.Scalar) throw new ArgumentException("a packed B source needs the AVX2 or AVX-512 GEMM");
        if (p.K == 0)
        {
            if (!p.Accumulate)
                for (int i = 0; i < p.M; i++) new Span<float>(p.C + (long)i * p.Ldc, p.N).Clear();
            return;
        }
        int threads = allowThreads ? Parallelism.ThreadCount : 1;
        long work = (long)p.M * p.N * p.K;
        if (threads == 1 || work < (p.M == 1 ? GemvParallelThreshold : ParallelThreshold))
        {
            RunSingle(in p);
            return;
        }
        if (p.M == 1 && p.Form != GemmForm.NT && p.Isa == GemmIsa.Avx512 && p.N <= GemvRowSplit.MaxWidth && p.BSource == null)
        {
            GemvRowSplit.Run(in p, threads);
            return;
        }
        SplitJob job = SplitJob.ForCurrentThread;
        int parts = job.Set(p, threads);
        if (parts <= 1) { job.Clear(); RunSingle(in p); return; }
        if (job.SplitsColumns && p.M > 1 && p.Isa == GemmIsa.Avx512)
        {
            // Every column part would otherwise pack all of op(A) again: pack it once, in parallel, first.
            PackAJob pack = PackAJob.ForCurrentThread;
            Parallelism.For(pack.Set(in p), pack);
            job.UsePackedA(pack.Packed, pack.PackedRows);
            pack.Clear();
        }
        Parallelism.For(parts, job);
        job.Clear();
    }

    /// <summary>Runs one (sub)problem on the calling thread.</summary>
    internal static void RunSingle(in GemmProblem p)
    {
        if (p.Isa == GemmIsa.Scalar) { GemmScalar.Run(in p); return; }
        // a packed source is only read through the blocked loop's packing of B
        if (p.M == 1 && p.BSource == null) { Gemv.Run(in p); return; }
        GemmBlocked.Run(in p);
    }

    /// <summary>Splits C into one rectangle per thread, along N unless N is narrow; each thread packs its own B panels.</summary>
    private sealed class SplitJob : IParallelWork
    {
        [ThreadStatic] private static SplitJob? _current;
        public static SplitJob ForCurrentThread => _current ??= new SplitJob();

        private const int ItemsPerThread = 4;
        private GemmProblem _p;
        private bool _splitN;
        private int _chunk;
        private int _parts;

        public int Set(in GemmProblem p, int threads)
        {
            _p = p;
            int mr = GemmBlocked.MR, nr = p.Isa == GemmIsa.Avx512 ? 32 : 16;
            // A is read in place and B is packed per thread, so splitting N duplicates no work; split M only
            // when N is too narrow to give every thread a few panels.
            _splitN = p.M == 1 || (p.N + nr - 1) / nr >= 2 * threads || p.M < 2 * mr * threads;
            int extent = _splitN ? p.N : p.M;
            int unit = _splitN ? nr : mr;
            int units = (extent + unit - 1) / unit;
            // A few items per thread, claimed dynamically, so that a thread that is descheduled or slowed by
            // another process does not leave the others waiting at the end of the call. One item per thread
            // when splitting M (every item packs all of B), on the AVX2 path for TN (every item packs all of Aᵀ;
            // the AVX-512 path packs A once before splitting), and for M = 1 with B: [K, N] (NN, TN), where fewer,
            // wider column ranges stream memory better.
            bool packsAPerItem = p.Form == GemmForm.TN && p.Isa != GemmIsa.Avx512;
            int perThread = (p.M == 1 && p.Form != GemmForm.NT) || !_splitN || packsAPerItem ? 1 : ItemsPerThread;
            _parts = Math.Min(units, threads * perThread);
            int unitsPerPart = (units + _parts - 1) / _parts;
            _chunk = unitsPerPart * unit;
            _parts = (extent + _chunk - 1) / _chunk;
            return _parts;
        }

        public bool SplitsColumns => _splitN;

        public void UsePackedA(float* packed, int packedRows) => _p = _p.WithPackedA(packed, packedRows);

        public void Clear() => _p = default;

        public void Execute(int index)
        {
            GemmProblem sub = _splitN
                ? _p.Columns(index * _chunk, Math.Min(_p.N, (index + 1) * _chunk))
                : _p.Rows(index * _chunk, Math.Min(_p.M, (index + 1) * _chunk));
            RunSingle(in sub);
        }
    }

    /// <summary>
    /// Packs all of op(A) into <see cref="GemmPackingA"/>'s panels, k block after k block (the layout
    /// <see cref="GemmProblem.PackedA"/> describes), one item per (k block, MC-row block). The buffer belongs to
    /// the calling thread and grows to the largest A seen.
    /// </summary>
    private sealed class PackAJob : IParallelWork
    {
        [ThreadStatic] private static PackAJob? _current;
        public static PackAJob ForCurrentThread => _current ??= new PackAJob();

        private GemmProblem _p;
        private int _rowBlocks;
        private long _capacity;
        public float* Packed { get; private set; }
        public int PackedRows { get; private set; }

        /// <summary>Prepares to pack <paramref name="p"/>'s op(A); returns the number of work items.</summary>
        public int Set(in GemmProblem p)
        {
            _p = p;
            int mr = GemmKernel12x32.MR;
            PackedRows = (p.M + mr - 1) / mr * mr;
            long need = (long)PackedRows * p.K;
            if (need > _capacity)
            {
                if (Packed != null) NativeMemory.AlignedFree(Packed);
                Packed = (float*)NativeMemory.AlignedAlloc((nuint)(need * sizeof(float)), 64);
                _capacity = need;
            }
            _rowBlocks = (p.M + GemmBlocked.MC - 1) / GemmBlocked.MC;
            int kBlocks = (p.K + GemmBlocked.KC - 1) / GemmBlocked.KC;
            return kBlocks * _rowBlocks;
        }

        public void Clear() => _p = default;

        public void Execute(int index)
        {
            int pc = index / _rowBlocks * GemmBlocked.KC, ic = index % _rowBlocks * GemmBlocked.MC;
            int kc = Math.Min(GemmBlocked.KC, _p.K - pc), mc = Math.Min(GemmBlocked.MC, _p.M - ic);
            GemmPackingA.Pack(_p.Form, _p.A, _p.Lda, ic, pc, mc, kc, Packed + (long)pc * PackedRows + (long)ic * kc);
        }
    }
}

/// <summary>Instruction sets the GEMM kernels can use.</summary>
public enum GemmIsa
{
    /// <summary>Plain scalar loops (no SIMD).</summary>
    Scalar,
    /// <summary>Vector256 with FMA3 (AVX2).</summary>
    Avx2,
    /// <summary>Vector512 with AVX-512F FMA.</summary>
    Avx512,
}

/// <summary>What the running CPU supports.</summary>
public static class GemmIsaInfo
{
    /// <summary>The fastest instruction set this CPU supports.</summary>
    public static GemmIsa Best { get; } =
        Avx512F.IsSupported ? GemmIsa.Avx512 : Fma.IsSupported && Avx2.IsSupported ? GemmIsa.Avx2 : GemmIsa.Scalar;

    /// <summary>True when <paramref name="isa"/> can run on this CPU.</summary>
    public static bool IsSupported(GemmIsa isa) => isa <= Best;

    /// <summary>The best instruction set, lowered to <c>TOKENFORMER_ISA</c> (scalar, avx2, avx512) when that is set.</summary>
    public static GemmIsa FromEnvironment()
    {
        string? value = Environment.GetEnvironmentVariable("TOKENFORMER_ISA");
        if (string.IsNullOrWhiteSpace(value)) return Best;
        if (!Enum.TryParse(value.Trim(), ignoreCase: true, out GemmIsa isa))
            throw new InvalidOperationException($"TOKENFORMER_ISA='{value}' is not one of scalar, avx2, avx512");
        if (!IsSupported(isa))
            throw new InvalidOperationException($"TOKENFORMER_ISA='{value}' is not supported by this CPU (best: {Best})");
        return isa;
    }
}
