using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Single-threaded BLIS-order GEMM: for each NC-wide block of B and KC-deep slice, pack B into NR-wide
/// panels (the block in L2/L3, one panel in L1, transposed for NT and zero-padded at the edge), then for each
/// MC-high block of A (read in place for NN/NT, packed into MR-row panels for TN; it stays in L2) sweep the
/// MR×NR micro-kernel over the block.
/// </summary>
internal static unsafe class GemmBlocked
{
    public const int MR = 6;
    public const int KC = 256;
    public const int MC = 120;
    public const int NC = 3072;

    [ThreadStatic] private static float* _packA;
    [ThreadStatic] private static float* _packB;
    [ThreadStatic] private static float* _tile;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(in GemmProblem p)
    {
        int nr = p.Isa == GemmIsa.Avx512 ? 32 : 16;
        EnsureBuffers();
        float* packB = _packB, packA = _packA;
        // op(A) element (i, p) lives at A + i·rs + p·cs. Aᵀ (TN) is packed instead of read in place: in place, each
        // k step would touch a new row of A at a stride of lda floats, and strides near a multiple of 1 KiB map
        // those rows onto a few L1 sets.
        bool packAt = p.Form == GemmForm.TN;
        long rs = packAt ? 1 : p.Lda, cs = packAt ? MR : 1;
        for (int jc = 0; jc < p.N; jc += NC)
        {
            int nc = Math.Min(NC, p.N - jc);
            for (int pc = 0; pc < p.K; pc += KC)
            {
                int kc = Math.Min(KC, p.K - pc);
                bool accumulate = p.Accumulate || pc > 0;
                GemmPacking.PackB(p.Form, p.B, p.Ldb, pc, jc, kc, nc, nr, packB);
                for (int ic = 0; ic < p.M; ic += MC)
                {
                    int mc = Math.Min(MC, p.M - ic);
                    if (packAt) PackTransposedA(p.A, p.Lda, ic, pc, mc, kc, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int ncur = Math.Min(nr, nc - jr);
                        float* bPanel = packB + (long)(jr / nr) * kc * nr;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mcur = Math.Min(MR, mc - ir);
                            float* aPanel = packAt ? packA + (long)(ir / MR) * kc * MR : p.A + (ic + ir) * rs + pc * cs;
                            float* c = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
                            if (mcur == MR && ncur == nr)
                                Kernel(p.Isa, kc, aPanel, rs, cs, bPanel, c, p.Ldc, p.Alpha, accumulate);
                            else
                                EdgeTile(p.Isa, kc, aPanel, rs, cs, bPanel, c, p.Ldc, p.Alpha, accumulate, mcur, ncur, nr);
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(GemmIsa isa, int kc, float* a, long rs, long cs, float* b, float* c, int ldc, float alpha,
        bool accumulate)
    {
        if (isa == GemmIsa.Avx512) GemmMicroKernels.Kernel6x32(kc, a, rs, cs, b, c, ldc, alpha, accumulate);
        else GemmMicroKernels.Kernel6x16(kc, a, rs, cs, b, c, ldc, alpha, accumulate);
    }

    /// <summary>
    /// Computes a full tile into scratch and merges its valid mcur×ncur corner into C. Rows past the edge of A
    /// re-read the last valid row (valid memory); their results are dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EdgeTile(GemmIsa isa, int kc, float* a, long rs, long cs, float* b, float* c, int ldc, float alpha,
        bool accumulate, int mcur, int ncur, int nr)
    {
        float* tile = _tile;
        if (isa == GemmIsa.Avx512) GemmMicroKernels.Kernel6x32(kc, a, rs, cs, b, tile, nr, 1f, false, mcur);
        else GemmMicroKernels.Kernel6x16(kc, a, rs, cs, b, tile, nr, 1f, false, mcur);
        for (int i = 0; i < mcur; i++)
        {
            float* src = tile + i * nr;
            float* dst = c + (long)i * ldc;
            if (accumulate) for (int j = 0; j < ncur; j++) dst[j] += alpha * src[j];
            else for (int j = 0; j < ncur; j++) dst[j] = alpha * src[j];
        }
    }

    private static void EnsureBuffers()
    {
        if (_packB != null) return;
        _packA = (float*)NativeMemory.AlignedAlloc((nuint)(MC * KC * sizeof(float)), 64);
        _packB = (float*)NativeMemory.AlignedAlloc((nuint)(KC * NC * sizeof(float)), 64);
        _tile = (float*)NativeMemory.AlignedAlloc((nuint)(MR * 32 * sizeof(float)), 64);
    }

    /// <summary>
    /// Packs Aᵀ[ic..ic+mc, pc..pc+kc] (A: [K, M], row stride lda) into MR-row panels: element (i, p) at
    /// (i / MR)·kc·MR + p·MR + i % MR. Rows of A are read contiguously; a short last panel holds only its rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposedA(float* a, int lda, int ic, int pc, int mc, int kc, float* dst)
    {
        for (int p = 0; p < kc; p++)
        {
            float* src = a + (long)(pc + p) * lda + ic;
            int ir = 0;
            if (Avx.IsSupported)
            {
                // An 8-float load may read two floats past the panel but stays inside the row (ir + 8 ≤ mc).
                Vector256<float> mask = Vector256.Create(-1, -1, -1, -1, -1, -1, 0, 0).AsSingle();
                for (; ir + 8 <= mc; ir += MR)
                    Avx.MaskStore(dst + (long)(ir / MR) * kc * MR + p * MR, mask, Avx.LoadVector256(src + ir));
            }
            for (; ir + MR <= mc; ir += MR)
            {
                float* d = dst + (long)(ir / MR) * kc * MR + p * MR;
                d[0] = src[ir]; d[1] = src[ir + 1]; d[2] = src[ir + 2];
                d[3] = src[ir + 3]; d[4] = src[ir + 4]; d[5] = src[ir + 5];
            }
            if (ir < mc)
            {
                float* d = dst + (long)(ir / MR) * kc * MR + p * MR;
                for (int r = 0; ir + r < mc; r++) d[r] = src[ir + r];
            }
        }
    }
}
