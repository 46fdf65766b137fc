using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Single-threaded BLIS-order GEMM: for each NC-wide block of B and KC-deep slice, pack B into NR-wide
/// panels (kept in L3/L2, one panel in L1), then for each MC-high block of A pack it into MR-high panels (L2)
/// and sweep the MR×NR micro-kernel over the block. Packing absorbs the transposes of every form and pads
/// edges with zeros, so the micro-kernel only ever sees full tiles.
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

    public static void Run(in GemmProblem p)
    {
        int nr = p.Isa == GemmIsa.Avx512 ? 32 : 16;
        EnsureBuffers();
        float* packA = _packA, packB = _packB;
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
                    GemmPacking.PackA(p.Form, p.A, p.Lda, ic, pc, mc, kc, MR, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int ncur = Math.Min(nr, nc - jr);
                        float* bPanel = packB + (long)(jr / nr) * kc * nr;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mcur = Math.Min(MR, mc - ir);
                            float* aPanel = packA + (long)(ir / MR) * kc * MR;
                            float* c = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
                            if (mcur == MR && ncur == nr)
                                Kernel(p.Isa, kc, aPanel, bPanel, c, p.Ldc, p.Alpha, accumulate);
                            else
                                EdgeTile(p.Isa, kc, aPanel, bPanel, c, p.Ldc, p.Alpha, accumulate, mcur, ncur, nr);
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(GemmIsa isa, int kc, float* a, float* b, float* c, int ldc, float alpha, bool accumulate)
    {
        if (isa == GemmIsa.Avx512) GemmMicroKernels.Kernel6x32(kc, a, b, c, ldc, alpha, accumulate);
        else GemmMicroKernels.Kernel6x16(kc, a, b, c, ldc, alpha, accumulate);
    }

    /// <summary>Computes a full tile into scratch and merges its valid mcur×ncur corner into C.</summary>
    private static void EdgeTile(GemmIsa isa, int kc, float* a, float* b, float* c, int ldc, float alpha,
        bool accumulate, int mcur, int ncur, int nr)
    {
        float* tile = _tile;
        Kernel(isa, kc, a, b, tile, nr, 1f, accumulate: false);
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
        if (_packA != null) return;
        _packA = (float*)NativeMemory.AlignedAlloc((nuint)(MC * KC * sizeof(float)), 64);
        _packB = (float*)NativeMemory.AlignedAlloc((nuint)(KC * NC * sizeof(float)), 64);
        _tile = (float*)NativeMemory.AlignedAlloc((nuint)(MR * 32 * sizeof(float)), 64);
    }
}
