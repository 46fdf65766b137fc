using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// The M = 1 case (decoding): y[N] = alpha·x·op(B) (+ y). Bandwidth-bound, so B is streamed once in
/// its storage order with no packing, and one row at a time: consecutive rows are consecutive memory, so each thread
/// reads one linear stream, which the hardware prefetcher follows at full speed. (Reading four or eight rows side by
/// side — four or eight streams a row apart — reached 0.5–0.6 of the read bandwidth on the 150m preset's decode, one
/// row at a time 0.9; docs/benchmarks.md, "Decode products".) NT (B: [N,K]): one dot product per row. NN / TN
/// (B: [K,N]): y is kept in L1 in 1024-wide chunks and updated with one row of B after another; with several threads
/// <see cref="Gemm"/> gives each a contiguous range of B's rows (<see cref="GemvRowSplit"/>) rather than of its columns.
/// Uses Vector512; other instruction sets go through the blocked kernel.
/// </summary>
internal static unsafe class Gemv
{
    private const int ChunkWidth = 1024;

    public static void Run(in GemmProblem p)
    {
        if (p.Isa != GemmIsa.Avx512) { GemmBlocked.Run(in p); return; }
        if (p.Form == GemmForm.NT) RunRows(in p);
        else RunColumns(in p);
    }

    /// <summary>y[j] = alpha·dot(x, B[j, :]); x = A[0, :] (K floats), B: [N, K].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunRows(in GemmProblem p)
    {
        float* x = p.A, y = p.C;
        int k = p.K, n = p.N;
        for (int j = 0; j < n; j++)
        {
            float* b = p.B + (long)j * p.Ldb;
            // four independent sums hide the FMA latency; the row is read front to back
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            int q = 0;
            for (; q + 64 <= k; q += 64)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + q), Vector512.Load(b + q), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(x + q + 16), Vector512.Load(b + q + 16), s1);
                s2 = Vector512.FusedMultiplyAdd(Vector512.Load(x + q + 32), Vector512.Load(b + q + 32), s2);
                s3 = Vector512.FusedMultiplyAdd(Vector512.Load(x + q + 48), Vector512.Load(b + q + 48), s3);
            }
            for (; q + 16 <= k; q += 16)
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + q), Vector512.Load(b + q), s0);
            float r = Vector512.Sum((s0 + s1) + (s2 + s3));
            for (; q < k; q++) r += x[q] * b[q];
            Write(y + j, r, p.Alpha, p.Accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(float* y, float value, float alpha, bool accumulate) =>
        *y = accumulate ? *y + alpha * value : alpha * value;

    /// <summary>y[0..N) = alpha·Σ_q x[q]·B[q, :]; x[q] = A[0, q] (NN) or A[q, 0] (TN), B: [K, N].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunColumns(in GemmProblem p)
    {
        long xStride = p.Form == GemmForm.TN ? p.Lda : 1;
        int k = p.K;
        long ldb = p.Ldb;
        for (int j0 = 0; j0 < p.N; j0 += ChunkWidth)
        {
            int w = Math.Min(ChunkWidth, p.N - j0);
            float* y = p.C + j0;
            if (!p.Accumulate) new Span<float>(y, w).Clear();
            float* bBase = p.B + j0;
            for (int q = 0; q < k; q++)
            {
                float* r = bBase + q * ldb;
                float s = p.Alpha * p.A[q * xStride];
                var xv = Vector512.Create(s);
                int j = 0;
                for (; j + 64 <= w; j += 64)
                {
                    Vector512.Store(Vector512.FusedMultiplyAdd(xv, Vector512.Load(r + j), Vector512.Load(y + j)), y + j);
                    Vector512.Store(Vector512.FusedMultiplyAdd(xv, Vector512.Load(r + j + 16), Vector512.Load(y + j + 16)), y + j + 16);
                    Vector512.Store(Vector512.FusedMultiplyAdd(xv, Vector512.Load(r + j + 32), Vector512.Load(y + j + 32)), y + j + 32);
                    Vector512.Store(Vector512.FusedMultiplyAdd(xv, Vector512.Load(r + j + 48), Vector512.Load(y + j + 48)), y + j + 48);
                }
                for (; j + 16 <= w; j += 16)
                    Vector512.Store(Vector512.FusedMultiplyAdd(xv, Vector512.Load(r + j), Vector512.Load(y + j)), y + j);
                for (; j < w; j++) y[j] += s * r[j];
            }
        }
    }
}
