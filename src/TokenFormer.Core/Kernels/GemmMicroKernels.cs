using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Register-tiled GEMM micro-kernel: C[6, NR] (= or +=) alpha · A[6, kc] · Bpanel[kc, NR] with NR = 2 vectors
/// (32 floats with Vector512, 16 with Vector256) held in twelve accumulators.
/// A is read in place: element (r, p) at a + min(r, rows − 1)·rs + p·cs (rs = lda, cs = 1 for A; a packed panel
/// has rs = 1 and cs = its height, 6 or 12), so short edge tiles re-read their last row. b: packed B panel, kc steps of NR floats;
/// c: row stride ldc.
/// </summary>
internal static unsafe class GemmMicroKernels
{
    /// <summary>6×32 tile with Vector512 accumulators (AVX-512F FMA).</summary>
    public static void Kernel6x32(int kc, float* a, long rs, long cs, float* b, float* c, int ldc, float alpha, bool accumulate,
        int rows = 6) =>
        Kernel6x2V<Vector512<float>, Float512>(kc, a, rs, cs, b, c, ldc, alpha, accumulate, rows);

    /// <summary>6×16 tile with Vector256 accumulators (AVX2 + FMA3).</summary>
    public static void Kernel6x16(int kc, float* a, long rs, long cs, float* b, float* c, int ldc, float alpha, bool accumulate,
        int rows = 6) =>
        Kernel6x2V<Vector256<float>, Float256>(kc, a, rs, cs, b, c, ldc, alpha, accumulate, rows);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x2V<TV, TOps>(int kc, float* a, long rs, long cs, float* b, float* c, int ldc, float alpha,
        bool accumulate, int rows)
        where TV : struct
        where TOps : IFloatVector<TV>
    {
        int w = TOps.Count;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * rs, a2 = a + Math.Min(2, rows - 1) * rs;
        float* a3 = a + Math.Min(3, rows - 1) * rs, a4 = a + Math.Min(4, rows - 1) * rs, a5 = a + Math.Min(5, rows - 1) * rs;
        PrefetchTile(c, ldc, w == 16 ? 2 : 1);
        long off = 0;
        int p = 0;
        {
            // Four k steps per iteration: the pointer and counter updates, which compete with the FMAs for issue
            // slots, are paid once per 48 FMAs instead of once per 12. Written out on purpose: a helper taking the
            // twelve accumulators by ref made the JIT keep them on the stack.
            for (; p + 4 <= kc; p += 4)
            {
                TV b0, b1, av;
                b0 = TOps.Load(b);
                b1 = TOps.Load(b + w);
                av = TOps.Create(a0[off]);
                c00 = TOps.MultiplyAdd(av, b0, c00);
                c01 = TOps.MultiplyAdd(av, b1, c01);
                av = TOps.Create(a1[off]);
                c10 = TOps.MultiplyAdd(av, b0, c10);
                c11 = TOps.MultiplyAdd(av, b1, c11);
                av = TOps.Create(a2[off]);
                c20 = TOps.MultiplyAdd(av, b0, c20);
                c21 = TOps.MultiplyAdd(av, b1, c21);
                av = TOps.Create(a3[off]);
                c30 = TOps.MultiplyAdd(av, b0, c30);
                c31 = TOps.MultiplyAdd(av, b1, c31);
                av = TOps.Create(a4[off]);
                c40 = TOps.MultiplyAdd(av, b0, c40);
                c41 = TOps.MultiplyAdd(av, b1, c41);
                av = TOps.Create(a5[off]);
                c50 = TOps.MultiplyAdd(av, b0, c50);
                c51 = TOps.MultiplyAdd(av, b1, c51);
                b0 = TOps.Load(b + 2 * w);
                b1 = TOps.Load(b + 2 * w + w);
                av = TOps.Create(a0[off + 1 * cs]);
                c00 = TOps.MultiplyAdd(av, b0, c00);
                c01 = TOps.MultiplyAdd(av, b1, c01);
                av = TOps.Create(a1[off + 1 * cs]);
                c10 = TOps.MultiplyAdd(av, b0, c10);
                c11 = TOps.MultiplyAdd(av, b1, c11);
                av = TOps.Create(a2[off + 1 * cs]);
                c20 = TOps.MultiplyAdd(av, b0, c20);
                c21 = TOps.MultiplyAdd(av, b1, c21);
                av = TOps.Create(a3[off + 1 * cs]);
                c30 = TOps.MultiplyAdd(av, b0, c30);
                c31 = TOps.MultiplyAdd(av, b1, c31);
                av = TOps.Create(a4[off + 1 * cs]);
                c40 = TOps.MultiplyAdd(av, b0, c40);
                c41 = TOps.MultiplyAdd(av, b1, c41);
                av = TOps.Create(a5[off + 1 * cs]);
                c50 = TOps.MultiplyAdd(av, b0, c50);
                c51 = TOps.MultiplyAdd(av, b1, c51);
                b0 = TOps.Load(b + 4 * w);
                b1 = TOps.Load(b + 4 * w + w);
                av = TOps.Create(a0[off + 2 * cs]);
                c00 = TOps.MultiplyAdd(av, b0, c00);
                c01 = TOps.MultiplyAdd(av, b1, c01);
                av = TOps.Create(a1[off + 2 * cs]);
                c10 = TOps.MultiplyAdd(av, b0, c10);
                c11 = TOps.MultiplyAdd(av, b1, c11);
                av = TOps.Create(a2[off + 2 * cs]);
                c20 = TOps.MultiplyAdd(av, b0, c20);
                c21 = TOps.MultiplyAdd(av, b1, c21);
                av = TOps.Create(a3[off + 2 * cs]);
                c30 = TOps.MultiplyAdd(av, b0, c30);
                c31 = TOps.MultiplyAdd(av, b1, c31);
                av = TOps.Create(a4[off + 2 * cs]);
                c40 = TOps.MultiplyAdd(av, b0, c40);
                c41 = TOps.MultiplyAdd(av, b1, c41);
                av = TOps.Create(a5[off + 2 * cs]);
                c50 = TOps.MultiplyAdd(av, b0, c50);
                c51 = TOps.MultiplyAdd(av, b1, c51);
                b0 = TOps.Load(b + 6 * w);
                b1 = TOps.Load(b + 6 * w + w);
                av = TOps.Create(a0[off + 3 * cs]);
                c00 = TOps.MultiplyAdd(av, b0, c00);
                c01 = TOps.MultiplyAdd(av, b1, c01);
                av = TOps.Create(a1[off + 3 * cs]);
                c10 = TOps.MultiplyAdd(av, b0, c10);
                c11 = TOps.MultiplyAdd(av, b1, c11);
                av = TOps.Create(a2[off + 3 * cs]);
                c20 = TOps.MultiplyAdd(av, b0, c20);
                c21 = TOps.MultiplyAdd(av, b1, c21);
                av = TOps.Create(a3[off + 3 * cs]);
                c30 = TOps.MultiplyAdd(av, b0, c30);
                c31 = TOps.MultiplyAdd(av, b1, c31);
                av = TOps.Create(a4[off + 3 * cs]);
                c40 = TOps.MultiplyAdd(av, b0, c40);
                c41 = TOps.MultiplyAdd(av, b1, c41);
                av = TOps.Create(a5[off + 3 * cs]);
                c50 = TOps.MultiplyAdd(av, b0, c50);
                c51 = TOps.MultiplyAdd(av, b1, c51);
                off += 4 * cs;
                b += 8 * w;
            }
        }
        for (; p < kc; p++)
        {
            TV b0 = TOps.Load(b);
            TV b1 = TOps.Load(b + w);
            TV av = TOps.Create(a0[off]);
            c00 = TOps.MultiplyAdd(av, b0, c00);
            c01 = TOps.MultiplyAdd(av, b1, c01);
            av = TOps.Create(a1[off]);
            c10 = TOps.MultiplyAdd(av, b0, c10);
            c11 = TOps.MultiplyAdd(av, b1, c11);
            av = TOps.Create(a2[off]);
            c20 = TOps.MultiplyAdd(av, b0, c20);
            c21 = TOps.MultiplyAdd(av, b1, c21);
            av = TOps.Create(a3[off]);
            c30 = TOps.MultiplyAdd(av, b0, c30);
            c31 = TOps.MultiplyAdd(av, b1, c31);
            av = TOps.Create(a4[off]);
            c40 = TOps.MultiplyAdd(av, b0, c40);
            c41 = TOps.MultiplyAdd(av, b1, c41);
            av = TOps.Create(a5[off]);
            c50 = TOps.MultiplyAdd(av, b0, c50);
            c51 = TOps.MultiplyAdd(av, b1, c51);
            off += cs;
            b += 2 * w;
        }
        TV al = TOps.Create(alpha);
        StoreRow<TV, TOps>(c, c00, c01, al, accumulate); c += ldc;
        StoreRow<TV, TOps>(c, c10, c11, al, accumulate); c += ldc;
        StoreRow<TV, TOps>(c, c20, c21, al, accumulate); c += ldc;
        StoreRow<TV, TOps>(c, c30, c31, al, accumulate); c += ldc;
        StoreRow<TV, TOps>(c, c40, c41, al, accumulate); c += ldc;
        StoreRow<TV, TOps>(c, c50, c51, al, accumulate);
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
    private static void StoreRow<TV, TOps>(float* c, TV x0, TV x1, TV alpha, bool accumulate)
        where TV : struct
        where TOps : IFloatVector<TV>
    {
        int w = TOps.Count;
        if (accumulate)
        {
            TOps.Store(TOps.MultiplyAdd(x0, alpha, TOps.Load(c)), c);
            TOps.Store(TOps.MultiplyAdd(x1, alpha, TOps.Load(c + w)), c + w);
        }
        else
        {
            TOps.Store(TOps.Multiply(x0, alpha), c);
            TOps.Store(TOps.Multiply(x1, alpha), c + w);
        }
    }
}
