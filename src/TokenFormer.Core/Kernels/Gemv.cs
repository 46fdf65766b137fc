using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// The M = 1 case (decoding): y[N] = alpha·x·op(B) (+ y). Bandwidth-bound, so B is streamed once in
/// its storage order with no packing. NT (B: [N,K]): four dot products at a time over contiguous rows.
/// NN / TN (B: [K,N]): y is kept in L1 in 1024-wide chunks and updated with eight rows of B per pass.
/// Uses Vector512; other instruction sets go through the blocked kernel.
/// </summary>
internal static unsafe class Gemv
{
    private const int ChunkWidth = 1024;

    /// <summary>TOKENFORMER_GEMV_PREFETCH=0 turns the next-rows prefetch of the one-row product off (to measure it).</summary>
    internal static readonly bool Prefetch = Environment.GetEnvironmentVariable("TOKENFORMER_GEMV_PREFETCH") != "0";

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
        int j = 0;
        for (; j + 4 <= n; j += 4)
        {
            float* b0 = p.B + (long)j * p.Ldb, b1 = b0 + p.Ldb, b2 = b1 + p.Ldb, b3 = b2 + p.Ldb;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            int q = 0;
            // The hardware prefetcher follows each row but starts afresh at every new row; asking for the next four
            // rows at the pace these four stream keeps memory busy across the row boundaries.
            long ahead = j + 8 <= n && Prefetch ? 4L * p.Ldb : 0;
            for (; q + 32 <= k; q += 32)
            {
                if (ahead != 0)
                {
                    Sse.Prefetch0(b0 + ahead + q); Sse.Prefetch0(b0 + ahead + q + 16);
                    Sse.Prefetch0(b1 + ahead + q); Sse.Prefetch0(b1 + ahead + q + 16);
                    Sse.Prefetch0(b2 + ahead + q); Sse.Prefetch0(b2 + ahead + q + 16);
                    Sse.Prefetch0(b3 + ahead + q); Sse.Prefetch0(b3 + ahead + q + 16);
                }
                Vector512<float> xv = Vector512.Load(x + q);
                Vector512<float> xw = Vector512.Load(x + q + 16);
                s0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b0 + q), s0);
                s1 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b1 + q), s1);
                s2 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b2 + q), s2);
                s3 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b3 + q), s3);
                t0 = Vector512.FusedMultiplyAdd(xw, Vector512.Load(b0 + q + 16), t0);
                t1 = Vector512.FusedMultiplyAdd(xw, Vector512.Load(b1 + q + 16), t1);
                t2 = Vector512.FusedMultiplyAdd(xw, Vector512.Load(b2 + q + 16), t2);
                t3 = Vector512.FusedMultiplyAdd(xw, Vector512.Load(b3 + q + 16), t3);
            }
            for (; q + 16 <= k; q += 16)
            {
                Vector512<float> xv = Vector512.Load(x + q);
                s0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b0 + q), s0);
                s1 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b1 + q), s1);
                s2 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b2 + q), s2);
                s3 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(b3 + q), s3);
            }
            float r0 = Vector512.Sum(s0 + t0), r1 = Vector512.Sum(s1 + t1);
            float r2 = Vector512.Sum(s2 + t2), r3 = Vector512.Sum(s3 + t3);
            for (; q < k; q++)
            {
                float xq = x[q];
                r0 += xq * b0[q]; r1 += xq * b1[q]; r2 += xq * b2[q]; r3 += xq * b3[q];
            }
            Write(y + j, r0, p.Alpha, p.Accumulate);
            Write(y + j + 1, r1, p.Alpha, p.Accumulate);
            Write(y + j + 2, r2, p.Alpha, p.Accumulate);
            Write(y + j + 3, r3, p.Alpha, p.Accumulate);
        }
        for (; j < n; j++)
        {
            float* b0 = p.B + (long)j * p.Ldb;
            Vector512<float> s0 = default;
            int q = 0;
            for (; q + 16 <= k; q += 16)
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + q), Vector512.Load(b0 + q), s0);
            float r0 = Vector512.Sum(s0);
            for (; q < k; q++) r0 += x[q] * b0[q];
            Write(y + j, r0, p.Alpha, p.Accumulate);
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
            int q = 0;
            for (; q + 8 <= k; q += 8)
            {
                float* r0 = bBase + q * ldb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
                float* r4 = r3 + ldb, r5 = r4 + ldb, r6 = r5 + ldb, r7 = r6 + ldb;
                float s0 = p.Alpha * p.A[q * xStride], s1 = p.Alpha * p.A[(q + 1) * xStride];
                float s2 = p.Alpha * p.A[(q + 2) * xStride], s3 = p.Alpha * p.A[(q + 3) * xStride];
                float s4 = p.Alpha * p.A[(q + 4) * xStride], s5 = p.Alpha * p.A[(q + 5) * xStride];
                float s6 = p.Alpha * p.A[(q + 6) * xStride], s7 = p.Alpha * p.A[(q + 7) * xStride];
                Vector512<float> x0 = Vector512.Create(s0), x1 = Vector512.Create(s1), x2 = Vector512.Create(s2);
                Vector512<float> x3 = Vector512.Create(s3), x4 = Vector512.Create(s4), x5 = Vector512.Create(s5);
                Vector512<float> x6 = Vector512.Create(s6), x7 = Vector512.Create(s7);
                int j = 0;
                // as in RunRows: the next eight rows' stretch of this chunk, at the pace these eight stream
                long ahead = q + 16 <= k && Prefetch ? 8 * ldb : 0;
                for (; j + 16 <= w; j += 16)
                {
                    if (ahead != 0)
                    {
                        Sse.Prefetch0(r0 + ahead + j); Sse.Prefetch0(r1 + ahead + j);
                        Sse.Prefetch0(r2 + ahead + j); Sse.Prefetch0(r3 + ahead + j);
                        Sse.Prefetch0(r4 + ahead + j); Sse.Prefetch0(r5 + ahead + j);
                        Sse.Prefetch0(r6 + ahead + j); Sse.Prefetch0(r7 + ahead + j);
                    }
                    Vector512<float> acc = Vector512.Load(y + j);
                    acc = Vector512.FusedMultiplyAdd(x0, Vector512.Load(r0 + j), acc);
                    acc = Vector512.FusedMultiplyAdd(x1, Vector512.Load(r1 + j), acc);
                    acc = Vector512.FusedMultiplyAdd(x2, Vector512.Load(r2 + j), acc);
                    acc = Vector512.FusedMultiplyAdd(x3, Vector512.Load(r3 + j), acc);
                    Vector512<float> acc2 = Vector512.FusedMultiplyAdd(x4, Vector512.Load(r4 + j), Vector512.Load(r5 + j) * x5);
                    acc2 = Vector512.FusedMultiplyAdd(x6, Vector512.Load(r6 + j), acc2);
                    acc2 = Vector512.FusedMultiplyAdd(x7, Vector512.Load(r7 + j), acc2);
                    Vector512.Store(acc + acc2, y + j);
                }
                for (; j < w; j++)
                    y[j] += s0 * r0[j] + s1 * r1[j] + s2 * r2[j] + s3 * r3[j] + s4 * r4[j] + s5 * r5[j] + s6 * r6[j] + s7 * r7[j];
            }
            for (; q < k; q++)
            {
                float* r0 = bBase + q * ldb;
                var x0 = Vector512.Create(p.Alpha * p.A[q * xStride]);
                int j = 0;
                for (; j + 16 <= w; j += 16)
                    Vector512.Store(Vector512.FusedMultiplyAdd(x0, Vector512.Load(r0 + j), Vector512.Load(y + j)), y + j);
                float s0 = x0.ToScalar();
                for (; j < w; j++) y[j] += s0 * r0[j];
            }
        }
    }
}
