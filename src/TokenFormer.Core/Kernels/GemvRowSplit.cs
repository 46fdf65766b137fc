using System.Runtime.InteropServices;
using System.Numerics.Tensors;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// The multi-threaded M = 1 product with B: [K, N] (NN, TN) when N is narrow: y[N] = alpha·Σ_q x[q]·B[q, :] (+ y).
/// Each thread takes a contiguous range of B's rows (one linear stream of memory) and sums it into a partial y of
/// its own; the partials are then added into C. Splitting N instead would have each thread read every row in part —
/// half-rows of a 768-wide matrix, 1.5 KB on and 1.5 KB off — which the hardware prefetcher follows poorly
/// (docs/benchmarks.md, "Decode products").
/// </summary>
internal sealed unsafe class GemvRowSplit : IParallelWork
{
    /// <summary>Up to this N the rows are split; wider products give each thread long enough column ranges.</summary>
    public const int MaxWidth = 4096;

    [ThreadStatic] private static GemvRowSplit? _current;
    private static GemvRowSplit ForCurrentThread => _current ??= new GemvRowSplit();

    private GemmProblem _p;
    private int _chunk, _parts;
    private float* _partials;      // _parts rows of N floats
    private long _capacity;

    /// <summary>Runs <paramref name="p"/> (M = 1, NN or TN, N ≤ <see cref="MaxWidth"/>) over up to <paramref name="threads"/> threads.</summary>
    public static void Run(in GemmProblem p, int threads)
    {
        GemvRowSplit job = ForCurrentThread;
        int parts = job.Set(in p, threads);
        if (parts <= 1) { job._p = default; Gemv.Run(in p); return; }
        Parallelism.For(parts, job);
        job.Reduce();
        job._p = default;
    }

    private int Set(in GemmProblem p, int threads)
    {
        _p = p;
        // whole cache lines of rows per part, and no part so short that its partial costs more than it reads
        int parts = Math.Min(threads, Math.Max(1, p.K / 16));
        _chunk = (p.K + parts - 1) / parts;
        _parts = (p.K + _chunk - 1) / _chunk;
        long need = (long)_parts * p.N;
        if (need > _capacity)
        {
            if (_partials != null) NativeMemory.AlignedFree(_partials);
            _partials = (float*)NativeMemory.AlignedAlloc((nuint)(need * sizeof(float)), 64);
            _capacity = need;
        }
        return _parts;
    }

    public void Execute(int index)
    {
        int q0 = index * _chunk, q1 = Math.Min(_p.K, q0 + _chunk);
        long xStride = _p.Form == GemmForm.TN ? _p.Lda : 1;
        var part = new GemmProblem(_p.Form, 1, q1 - q0, _p.N, _p.A + q0 * xStride, _p.Lda, _p.B + (long)q0 * _p.Ldb, _p.Ldb,
            _partials + (long)index * _p.N, _p.N, 1f, false, _p.Isa);
        Gemv.Run(in part);
    }

    /// <summary>C = alpha·Σ partials (+ C); the sum gathers in the first partial.</summary>
    private void Reduce()
    {
        int n = _p.N;
        var sum = new Span<float>(_partials, n);
        for (int t = 1; t < _parts; t++) TensorPrimitives.Add(sum, new ReadOnlySpan<float>(_partials + (long)t * n, n), sum);
        var y = new Span<float>(_p.C, n);
        if (_p.Accumulate) TensorPrimitives.MultiplyAdd(sum, _p.Alpha, y, y);
        else TensorPrimitives.Multiply(sum, _p.Alpha, y);
    }
}
