using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Packing of GEMM operands into the micro-kernel's panel layouts.
/// A block [mc, kc] → panels of MR rows: element (i, p) at (i / MR)·kc·MR + p·MR + i % MR.
/// B block [kc, nc] → panels of NR columns: element (p, j) at (j / NR)·kc·NR + p·NR + j % NR.
/// Rows/columns past the matrix edge are zero.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc]; op(A) is A (NN, NT; A: [M,K]) or Aᵀ (TN; A: [K,M]).</summary>
    public static void PackA(GemmForm form, float* a, int lda, int ic, int pc, int mc, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* d = dst + (long)(ir / mr) * kc * mr;
            if (form == GemmForm.TN)
            {
                float* src = a + (long)pc * lda + ic + ir;
                for (int p = 0; p < kc; p++, src += lda, d += mr)
                {
                    int r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < mr; r++) d[r] = 0f;
                }
            }
            else
            {
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (long)(ic + ir + r) * lda + pc;
                    for (int p = 0; p < kc; p++) d[p * mr + r] = src[p];
                }
                for (int r = rows; r < mr; r++)
                    for (int p = 0; p < kc; p++) d[p * mr + r] = 0f;
            }
        }
    }

    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc]; op(B) is B (NN, TN; B: [K,N]) or Bᵀ (NT; B: [N,K]).</summary>
    public static void PackB(GemmForm form, float* b, int ldb, int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* d = dst + (long)(jr / nr) * kc * nr;
            if (form != GemmForm.NT)
            {
                float* src = b + (long)pc * ldb + jc + jr;
                if (cols == nr && nr == 32)
                {
                    for (int p = 0; p < kc; p++, src += ldb, d += 32)
                    {
                        Vector512.Store(Vector512.Load(src), d);
                        Vector512.Store(Vector512.Load(src + 16), d + 16);
                    }
                }
                else if (cols == nr && nr == 16)
                {
                    for (int p = 0; p < kc; p++, src += ldb, d += 16)
                    {
                        Vector256.Store(Vector256.Load(src), d);
                        Vector256.Store(Vector256.Load(src + 8), d + 8);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += ldb, d += nr)
                    {
                        int j = 0;
                        for (; j < cols; j++) d[j] = src[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (long)(jc + jr + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) d[p * nr + j] = src[p];
                }
                for (int j = cols; j < nr; j++)
                    for (int p = 0; p < kc; p++) d[p * nr + j] = 0f;
            }
        }
    }
}
