using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// AVX-512 GEMM micro-kernel: C[12, 32] (= or +=) alpha · Apanel[12, kc] · Bpanel[kc, 32], held in 24 Vector512
/// accumulators (of the 32 zmm registers; two more hold the B row and one the broadcast A element).
/// a: packed A panel, element (r, p) at p·12 + r (<see cref="GemmPackingA"/>); b: packed B panel, element (p, j) at
/// p·32 + j; c: row stride ldc. Per k step: 2 vector loads and 12 broadcasts for 24 FMAs.
/// </summary>
internal static unsafe class GemmKernel12x32
{
    public const int MR = 12, NR = 32;
    private static readonly bool Prefetch = Environment.GetEnvironmentVariable("TOKENFORMER_GEMM_PREFETCH_C") != "0";
    private const int PrefetchMinLdc = 16384;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, int ldc, float alpha, bool accumulate)
    {
        // rows of C a page or more apart (the LM head's vocab-wide C): start fetching the tile's 24 lines now, so the
        // final load/store does not wait on them (docs/benchmarks.md, GEMM: +2.5–6 % at 368×768×50304, +6–13 % at 74 rows)
        if (ldc >= PrefetchMinLdc && Prefetch)
            for (int i = 0; i < MR; i++)
            {
                Sse.Prefetch0(c + (long)i * ldc);
                Sse.Prefetch0(c + (long)i * ldc + 16);
            }
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default;
        Vector512<float> c2a = default, c2b = default, c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default, c5a = default, c5b = default;
        Vector512<float> c6a = default, c6b = default, c7a = default, c7b = default;
        Vector512<float> c8a = default, c8b = default, c9a = default, c9b = default;
        Vector512<float> c10a = default, c10b = default, c11a = default, c11b = default;
        Vector512<float> b0, b1, av;
        int p = 0;
        // Two k steps per iteration (one step per iteration measured 7 % slower: median ratio to OpenBLAS 0.93 against
        // 1.00, 1 thread, three alternating rounds). Written out on purpose: the JIT keeps all 24 accumulators in
        // registers only when they are plain locals of this method; the odd last step repeats the body once more.
        for (; p + 2 <= kc; p += 2)
        {
            b0 = Vector512.Load(b + 0);
            b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0a = Vector512.FusedMultiplyAdd(av, b0, c0a);
            c0b = Vector512.FusedMultiplyAdd(av, b1, c0b);
            av = Vector512.Create(a[1]);
            c1a = Vector512.FusedMultiplyAdd(av, b0, c1a);
            c1b = Vector512.FusedMultiplyAdd(av, b1, c1b);
            av = Vector512.Create(a[2]);
            c2a = Vector512.FusedMultiplyAdd(av, b0, c2a);
            c2b = Vector512.FusedMultiplyAdd(av, b1, c2b);
            av = Vector512.Create(a[3]);
            c3a = Vector512.FusedMultiplyAdd(av, b0, c3a);
            c3b = Vector512.FusedMultiplyAdd(av, b1, c3b);
            av = Vector512.Create(a[4]);
            c4a = Vector512.FusedMultiplyAdd(av, b0, c4a);
            c4b = Vector512.FusedMultiplyAdd(av, b1, c4b);
            av = Vector512.Create(a[5]);
            c5a = Vector512.FusedMultiplyAdd(av, b0, c5a);
            c5b = Vector512.FusedMultiplyAdd(av, b1, c5b);
            av = Vector512.Create(a[6]);
            c6a = Vector512.FusedMultiplyAdd(av, b0, c6a);
            c6b = Vector512.FusedMultiplyAdd(av, b1, c6b);
            av = Vector512.Create(a[7]);
            c7a = Vector512.FusedMultiplyAdd(av, b0, c7a);
            c7b = Vector512.FusedMultiplyAdd(av, b1, c7b);
            av = Vector512.Create(a[8]);
            c8a = Vector512.FusedMultiplyAdd(av, b0, c8a);
            c8b = Vector512.FusedMultiplyAdd(av, b1, c8b);
            av = Vector512.Create(a[9]);
            c9a = Vector512.FusedMultiplyAdd(av, b0, c9a);
            c9b = Vector512.FusedMultiplyAdd(av, b1, c9b);
            av = Vector512.Create(a[10]);
            c10a = Vector512.FusedMultiplyAdd(av, b0, c10a);
            c10b = Vector512.FusedMultiplyAdd(av, b1, c10b);
            av = Vector512.Create(a[11]);
            c11a = Vector512.FusedMultiplyAdd(av, b0, c11a);
            c11b = Vector512.FusedMultiplyAdd(av, b1, c11b);
            b0 = Vector512.Load(b + 32);
            b1 = Vector512.Load(b + 48);
            av = Vector512.Create(a[12]);
            c0a = Vector512.FusedMultiplyAdd(av, b0, c0a);
            c0b = Vector512.FusedMultiplyAdd(av, b1, c0b);
            av = Vector512.Create(a[13]);
            c1a = Vector512.FusedMultiplyAdd(av, b0, c1a);
            c1b = Vector512.FusedMultiplyAdd(av, b1, c1b);
            av = Vector512.Create(a[14]);
            c2a = Vector512.FusedMultiplyAdd(av, b0, c2a);
            c2b = Vector512.FusedMultiplyAdd(av, b1, c2b);
            av = Vector512.Create(a[15]);
            c3a = Vector512.FusedMultiplyAdd(av, b0, c3a);
            c3b = Vector512.FusedMultiplyAdd(av, b1, c3b);
            av = Vector512.Create(a[16]);
            c4a = Vector512.FusedMultiplyAdd(av, b0, c4a);
            c4b = Vector512.FusedMultiplyAdd(av, b1, c4b);
            av = Vector512.Create(a[17]);
            c5a = Vector512.FusedMultiplyAdd(av, b0, c5a);
            c5b = Vector512.FusedMultiplyAdd(av, b1, c5b);
            av = Vector512.Create(a[18]);
            c6a = Vector512.FusedMultiplyAdd(av, b0, c6a);
            c6b = Vector512.FusedMultiplyAdd(av, b1, c6b);
            av = Vector512.Create(a[19]);
            c7a = Vector512.FusedMultiplyAdd(av, b0, c7a);
            c7b = Vector512.FusedMultiplyAdd(av, b1, c7b);
            av = Vector512.Create(a[20]);
            c8a = Vector512.FusedMultiplyAdd(av, b0, c8a);
            c8b = Vector512.FusedMultiplyAdd(av, b1, c8b);
            av = Vector512.Create(a[21]);
            c9a = Vector512.FusedMultiplyAdd(av, b0, c9a);
            c9b = Vector512.FusedMultiplyAdd(av, b1, c9b);
            av = Vector512.Create(a[22]);
            c10a = Vector512.FusedMultiplyAdd(av, b0, c10a);
            c10b = Vector512.FusedMultiplyAdd(av, b1, c10b);
            av = Vector512.Create(a[23]);
            c11a = Vector512.FusedMultiplyAdd(av, b0, c11a);
            c11b = Vector512.FusedMultiplyAdd(av, b1, c11b);
            a += 24;
            b += 64;
        }
        if (p < kc)
        {
            b0 = Vector512.Load(b + 0);
            b1 = Vector512.Load(b + 16);
            av = Vector512.Create(a[0]);
            c0a = Vector512.FusedMultiplyAdd(av, b0, c0a);
            c0b = Vector512.FusedMultiplyAdd(av, b1, c0b);
            av = Vector512.Create(a[1]);
            c1a = Vector512.FusedMultiplyAdd(av, b0, c1a);
            c1b = Vector512.FusedMultiplyAdd(av, b1, c1b);
            av = Vector512.Create(a[2]);
            c2a = Vector512.FusedMultiplyAdd(av, b0, c2a);
            c2b = Vector512.FusedMultiplyAdd(av, b1, c2b);
            av = Vector512.Create(a[3]);
            c3a = Vector512.FusedMultiplyAdd(av, b0, c3a);
            c3b = Vector512.FusedMultiplyAdd(av, b1, c3b);
            av = Vector512.Create(a[4]);
            c4a = Vector512.FusedMultiplyAdd(av, b0, c4a);
            c4b = Vector512.FusedMultiplyAdd(av, b1, c4b);
            av = Vector512.Create(a[5]);
            c5a = Vector512.FusedMultiplyAdd(av, b0, c5a);
            c5b = Vector512.FusedMultiplyAdd(av, b1, c5b);
            av = Vector512.Create(a[6]);
            c6a = Vector512.FusedMultiplyAdd(av, b0, c6a);
            c6b = Vector512.FusedMultiplyAdd(av, b1, c6b);
            av = Vector512.Create(a[7]);
            c7a = Vector512.FusedMultiplyAdd(av, b0, c7a);
            c7b = Vector512.FusedMultiplyAdd(av, b1, c7b);
            av = Vector512.Create(a[8]);
            c8a = Vector512.FusedMultiplyAdd(av, b0, c8a);
            c8b = Vector512.FusedMultiplyAdd(av, b1, c8b);
            av = Vector512.Create(a[9]);
            c9a = Vector512.FusedMultiplyAdd(av, b0, c9a);
            c9b = Vector512.FusedMultiplyAdd(av, b1, c9b);
            av = Vector512.Create(a[10]);
            c10a = Vector512.FusedMultiplyAdd(av, b0, c10a);
            c10b = Vector512.FusedMultiplyAdd(av, b1, c10b);
            av = Vector512.Create(a[11]);
            c11a = Vector512.FusedMultiplyAdd(av, b0, c11a);
            c11b = Vector512.FusedMultiplyAdd(av, b1, c11b);
        }
        Vector512<float> al = Vector512.Create(alpha);
        StoreRow(c + 0L * ldc, c0a, c0b, al, accumulate);
        StoreRow(c + 1L * ldc, c1a, c1b, al, accumulate);
        StoreRow(c + 2L * ldc, c2a, c2b, al, accumulate);
        StoreRow(c + 3L * ldc, c3a, c3b, al, accumulate);
        StoreRow(c + 4L * ldc, c4a, c4b, al, accumulate);
        StoreRow(c + 5L * ldc, c5a, c5b, al, accumulate);
        StoreRow(c + 6L * ldc, c6a, c6b, al, accumulate);
        StoreRow(c + 7L * ldc, c7a, c7b, al, accumulate);
        StoreRow(c + 8L * ldc, c8a, c8b, al, accumulate);
        StoreRow(c + 9L * ldc, c9a, c9b, al, accumulate);
        StoreRow(c + 10L * ldc, c10a, c10b, al, accumulate);
        StoreRow(c + 11L * ldc, c11a, c11b, al, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> alpha, bool accumulate)
    {
        if (accumulate)
        {
            Vector512.Store(Vector512.FusedMultiplyAdd(x0, alpha, Vector512.Load(c)), c);
            Vector512.Store(Vector512.FusedMultiplyAdd(x1, alpha, Vector512.Load(c + 16)), c + 16);
        }
        else
        {
            Vector512.Store(x0 * alpha, c);
            Vector512.Store(x1 * alpha, c + 16);
        }
    }
}
