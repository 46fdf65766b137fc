using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Single-threaded BLIS-order GEMM: for each NC-wide block of B and KC-deep slice, pack B into NR-wide panels
/// (the block in L2/L3, one panel in L1, transposed for NT and zero-padded at the edge), then for each MC-high
/// block of A (it stays in L2) sweep the MR×NR micro-kernel over the block.
/// AVX-512: A is always packed into 12-row panels for the 12×32 kernel (24 accumulators) — or taken pre-packed
/// from <see cref="GemmProblem.PackedA"/> when the threaded split packed it once for all threads.
/// AVX2: the 6×16 kernel (12 of the 16 ymm registers) reads A in place for NN/NT and packs Aᵀ for TN.
/// </summary>
internal static unsafe class GemmBlocked
{
    /// <summary>Rows per tile of the AVX2 kernel (and of the AVX-512 path's short-edge kernel).</summary>
    public const int MR = 6;
    /// <summary>Depth of a k block: a 384×32 B panel (48 KiB) is re-read from L1/L2 by every A panel.</summary>
    public const int KC = 384;
    /// <summary>Rows of A per L2 block: a multiple of both panel heights (6 for AVX2, 12 for AVX-512).</summary>
    public const int MC = 120;
    public const int NC = 3072;

    [ThreadStatic] private static float* _packA;
    [ThreadStatic] private static float* _packB;
    [ThreadStatic] private static float* _tile;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(in GemmProblem p)
    {
        bool avx512 = p.Isa == GemmIsa.Avx512;
        int nr = avx512 ? GemmKernel12x32.NR : 16;
        EnsureBuffers();
        for (int jc = 0; jc < p.N; jc += NC)
        {
            int nc = Math.Min(NC, p.N - jc);
            for (int pc = 0; pc < p.K; pc += KC)
            {
                int kc = Math.Min(KC, p.K - pc);
                bool accumulate = p.Accumulate || pc > 0;
                if (p.BSource != null) p.BSource.PackB(pc, p.BColumn0 + jc, kc, nc, nr, _packB);
                else GemmPacking.PackB(p.Form, p.B, p.Ldb, pc, jc, kc, nc, nr, _packB);
                if (avx512) SweepPanels12x32(in p, jc, nc, pc, kc, accumulate);
                else SweepAvx2(in p, jc, nc, pc, kc, accumulate);
            }
        }
    }

    /// <summary>
    /// AVX2: C[:, jc..jc+nc] (+)= op(A)[:, pc..pc+kc] · packed B block, with the 6×16 kernel. op(A) element (i, p)
    /// lives at A + i·rs + p·cs. Aᵀ (TN) is packed instead of read in place: in place, each k step would touch a new
    /// row of A at a stride of lda floats, and strides near a multiple of 1 KiB map those rows onto a few L1 sets.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SweepAvx2(in GemmProblem p, int jc, int nc, int pc, int kc, bool accumulate)
    {
        const int nr = 16;
        float* packB = _packB, packA = _packA, tile = _tile;
        bool packAt = p.Form == GemmForm.TN;
        long rs = packAt ? 1 : p.Lda, cs = packAt ? MR : 1;
        for (int ic = 0; ic < p.M; ic += MC)
        {
            int mc = Math.Min(MC, p.M - ic);
            if (packAt) GemmPackingA.Pack(GemmForm.TN, p.A, p.Lda, ic, pc, mc, kc, packA, MR);
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
                    {
                        GemmMicroKernels.Kernel6x16(kc, aPanel, rs, cs, bPanel, c, p.Ldc, p.Alpha, accumulate);
                    }
                    else
                    {
                        // Rows past the edge of A re-read the last valid row; their results are dropped.
                        GemmMicroKernels.Kernel6x16(kc, aPanel, rs, cs, bPanel, tile, nr, 1f, false, mcur);
                        MergeTile(tile, nr, c, p.Ldc, p.Alpha, accumulate, mcur, ncur);
                    }
                }
            }
        }
    }

    /// <summary>
    /// AVX-512: the same sweep with A packed into 12-row panels (one MC×KC block at a time, or taken pre-packed) so
    /// that the 12×32 micro-kernel reads every broadcast from one pointer at fixed offsets.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SweepPanels12x32(in GemmProblem p, int jc, int nc, int pc, int kc, bool accumulate)
    {
        const int mr = GemmKernel12x32.MR, nr = GemmKernel12x32.NR;
        float* packB = _packB, packA = _packA, tile = _tile;
        for (int ic = 0; ic < p.M; ic += MC)
        {
            int mc = Math.Min(MC, p.M - ic);
            float* aBlock = packA;
            if (p.PackedA != null) aBlock = p.PackedA + (long)pc * p.PackedRows + (long)ic * kc;
            else GemmPackingA.Pack(p.Form, p.A, p.Lda, ic, pc, mc, kc, packA);
            for (int jr = 0; jr < nc; jr += nr)
            {
                int ncur = Math.Min(nr, nc - jr);
                float* bPanel = packB + (long)(jr / nr) * kc * nr;
                for (int ir = 0; ir < mc; ir += mr)
                {
                    int mcur = Math.Min(mr, mc - ir);
                    float* aPanel = aBlock + (long)ir * kc;
                    float* c = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
                    if (mcur == mr && ncur == nr)
                    {
                        GemmKernel12x32.Run(kc, aPanel, bPanel, c, p.Ldc, p.Alpha, accumulate);
                    }
                    else if (mcur == MR && ncur == nr)
                    {
                        GemmMicroKernels.Kernel6x32(kc, aPanel, 1, mr, bPanel, c, p.Ldc, p.Alpha, accumulate);
                    }
                    else
                    {
                        // A short last panel of at most 6 rows takes the 6-row kernel (rows 0..5 of the packed
                        // panel: rs = 1, cs = 12) to halve the wasted work.
                        if (mcur <= MR) GemmMicroKernels.Kernel6x32(kc, aPanel, 1, mr, bPanel, tile, nr, 1f, false, mcur);
                        else GemmKernel12x32.Run(kc, aPanel, bPanel, tile, nr, 1f, false);
                        MergeTile(tile, nr, c, p.Ldc, p.Alpha, accumulate, mcur, ncur);
                    }
                }
            }
        }
    }

    private static void MergeTile(float* tile, int nr, float* c, int ldc, float alpha, bool accumulate, int mcur, int ncur)
    {
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
        _tile = (float*)NativeMemory.AlignedAlloc((nuint)(GemmKernel12x32.MR * 32 * sizeof(float)), 64);
    }
}
