using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Register-tiled GEMM micro-kernels: C[6, NR] (= or +=) alpha · A[6, kc] · Bpanel[kc, NR].
/// A is read in place: element (r, p) at a + min(r, rows − 1)·rs + p·cs (rs = lda, cs = 1 for A; rs = 1, cs = lda for Aᵀ),
/// so no packing of A is needed. b: packed B panel, kc steps of NR floats; c: row stride ldc.
/// </summary>
internal static unsafe class GemmMicroKernels
{
    /// <summary>6×32 tile with twelve Vector512 accumulators (AVX-512F FMA). A: 6 rows × kc in place, b: [kc·32].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x32(int kc, float* a, long rs, long cs, float* b, float* c, int ldc, float alpha, bool accumulate,
        int rows = 6)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * rs, a2 = a + Math.Min(2, rows - 1) * rs;
        float* a3 = a + Math.Min(3, rows - 1) * rs, a4 = a + Math.Min(4, rows - 1) * rs, a5 = a + Math.Min(5, rows - 1) * rs;
        PrefetchTile(c, ldc, 2);
        long off = 0;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> av = Vector512.Create(a0[off]);
            c00 = Avx512F.FusedMultiplyAdd(av, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a1[off]);
            c10 = Avx512F.FusedMultiplyAdd(av, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a2[off]);
            c20 = Avx512F.FusedMultiplyAdd(av, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a3[off]);
            c30 = Avx512F.FusedMultiplyAdd(av, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a4[off]);
            c40 = Avx512F.FusedMultiplyAdd(av, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a5[off]);
            c50 = Avx512F.FusedMultiplyAdd(av, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            off += cs;
            b += 32;
        }
        Vector512<float> al = Vector512.Create(alpha);
        Store512(c, c00, c01, al, accumulate); c += ldc;
        Store512(c, c10, c11, al, accumulate); c += ldc;
        Store512(c, c20, c21, al, accumulate); c += ldc;
        Store512(c, c30, c31, al, accumulate); c += ldc;
        Store512(c, c40, c41, al, accumulate); c += ldc;
        Store512(c, c50, c51, al, accumulate);
    }

    /// <summary>Starts fetching the 6-row C tile into L1 so that the final load/store does not stall.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile(float* c, int ldc, int linesPerRow)
    {
        for (int i = 0; i < 6; i++)
        {
            Sse.Prefetch0(c + (long)i * ldc);
            if (linesPerRow > 1) Sse.Prefetch0(c + (long)i * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> alpha, bool accumulate)
    {
        if (accumulate)
        {
            Vector512.Store(Avx512F.FusedMultiplyAdd(x0, alpha, Vector512.Load(c)), c);
            Vector512.Store(Avx512F.FusedMultiplyAdd(x1, alpha, Vector512.Load(c + 16)), c + 16);
        }
        else
        {
            Vector512.Store(x0 * alpha, c);
            Vector512.Store(x1 * alpha, c + 16);
        }
    }

    /// <summary>6×16 tile with twelve Vector256 accumulators (AVX2 + FMA3). A: 6 rows × kc in place, b: [kc·16].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x16(int kc, float* a, long rs, long cs, float* b, float* c, int ldc, float alpha, bool accumulate,
        int rows = 6)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * rs, a2 = a + Math.Min(2, rows - 1) * rs;
        float* a3 = a + Math.Min(3, rows - 1) * rs, a4 = a + Math.Min(4, rows - 1) * rs, a5 = a + Math.Min(5, rows - 1) * rs;
        PrefetchTile(c, ldc, 1);
        long off = 0;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> av = Vector256.Create(a0[off]);
            c00 = Fma.MultiplyAdd(av, b0, c00);
            c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a1[off]);
            c10 = Fma.MultiplyAdd(av, b0, c10);
            c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a2[off]);
            c20 = Fma.MultiplyAdd(av, b0, c20);
            c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a3[off]);
            c30 = Fma.MultiplyAdd(av, b0, c30);
            c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a4[off]);
            c40 = Fma.MultiplyAdd(av, b0, c40);
            c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a5[off]);
            c50 = Fma.MultiplyAdd(av, b0, c50);
            c51 = Fma.MultiplyAdd(av, b1, c51);
            off += cs;
            b += 16;
        }
        Vector256<float> al = Vector256.Create(alpha);
        Store256(c, c00, c01, al, accumulate); c += ldc;
        Store256(c, c10, c11, al, accumulate); c += ldc;
        Store256(c, c20, c21, al, accumulate); c += ldc;
        Store256(c, c30, c31, al, accumulate); c += ldc;
        Store256(c, c40, c41, al, accumulate); c += ldc;
        Store256(c, c50, c51, al, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> alpha, bool accumulate)
    {
        if (accumulate)
        {
            Vector256.Store(Fma.MultiplyAdd(x0, alpha, Vector256.Load(c)), c);
            Vector256.Store(Fma.MultiplyAdd(x1, alpha, Vector256.Load(c + 8)), c + 8);
        }
        else
        {
            Vector256.Store(x0 * alpha, c);
            Vector256.Store(x1 * alpha, c + 8);
        }
    }
}
