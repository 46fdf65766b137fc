using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Packing of op(A) into MR-row panels — 12 rows for <see cref="GemmKernel12x32"/>, 6 for the AVX2 kernel: block
/// op(A)[ic..ic+mc, pc..pc+kc] → element (i, p) at (i / MR)·kc·MR + p·MR + i % MR; rows past the edge of A are zero.
/// op(A) is A (NN, NT; A: [M, K], row stride lda) or Aᵀ (TN; A: [K, M]).
/// </summary>
internal static unsafe class GemmPackingA
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(GemmForm form, float* a, int lda, int ic, int pc, int mc, int kc, float* dst, int mr = GemmKernel12x32.MR)
    {
        for (int ir = 0; ir < mc; ir += mr, dst += (long)kc * mr)
        {
            int rows = Math.Min(mr, mc - ir);
            if (form == GemmForm.TN) PackTransposed(a + (long)pc * lda + ic + ir, lda, rows, mr, kc, dst);
            else PackRows(a + (long)(ic + ir) * lda + pc, lda, rows, mr, kc, dst);
        }
    }

    /// <summary>One panel from rows of A (contiguous in p); 12-row panels by 8×8 transposes of rows 0–7 and 4–11 (rows 4–7 twice).</summary>
    private static void PackRows(float* src, int lda, int rows, int mr, int kc, float* dst)
    {
        const int MR = GemmKernel12x32.MR;
        int p = 0;
        if (rows == MR && mr == MR && Avx.IsSupported)
        {
            for (; p + 8 <= kc; p += 8)
            {
                GemmPacking.Transpose8x8(src + p, lda, dst + p * MR, MR);
                GemmPacking.Transpose8x8(src + 4L * lda + p, lda, dst + p * MR + 4, MR);
            }
        }
        for (; p < kc; p++)
        {
            float* d = dst + p * mr;
            int r = 0;
            for (; r < rows; r++) d[r] = src[(long)r * lda + p];
            for (; r < mr; r++) d[r] = 0f;
        }
    }

    /// <summary>One panel from Aᵀ: for each p, mr consecutive floats of row p of A.</summary>
    private static void PackTransposed(float* src, int lda, int rows, int mr, int kc, float* dst)
    {
        if (rows == 12 && mr == 12)
        {
            for (int p = 0; p < kc; p++, src += lda, dst += 12)
            {
                Vector256.Store(Vector256.Load(src), dst);
                Vector128.Store(Vector128.Load(src + 8), dst + 8);
            }
            return;
        }
        if (rows == 6 && mr == 6)
        {
            for (int p = 0; p < kc; p++, src += lda, dst += 6)
            {
                Vector128.Store(Vector128.Load(src), dst);
                dst[4] = src[4]; dst[5] = src[5];
            }
            return;
        }
        for (int p = 0; p < kc; p++, src += lda, dst += mr)
        {
            int r = 0;
            for (; r < rows; r++) dst[r] = src[r];
            for (; r < mr; r++) dst[r] = 0f;
        }
    }
}
