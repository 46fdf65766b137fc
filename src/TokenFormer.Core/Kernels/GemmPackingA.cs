using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Packing of op(A) into the 12-row panels of <see cref="GemmKernel12x32"/>: block op(A)[ic..ic+mc, pc..pc+kc] →
/// panels of 12 rows, element (i, p) at (i / 12)·kc·12 + p·12 + i % 12; rows past the edge of A are zero.
/// op(A) is A (NN, NT; A: [M, K], row stride lda) or Aᵀ (TN; A: [K, M]).
/// </summary>
internal static unsafe class GemmPackingA
{
    private const int MR = GemmKernel12x32.MR;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(GemmForm form, float* a, int lda, int ic, int pc, int mc, int kc, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR, dst += (long)kc * MR)
        {
            int rows = Math.Min(MR, mc - ir);
            if (form == GemmForm.TN) PackTransposed(a + (long)pc * lda + ic + ir, lda, rows, kc, dst);
            else PackRows(a + (long)(ic + ir) * lda + pc, lda, rows, kc, dst);
        }
    }

    /// <summary>One panel from rows of A (contiguous in p): 8×8 transposes of rows 0–7 and 4–11 (rows 4–7 twice).</summary>
    private static void PackRows(float* src, int lda, int rows, int kc, float* dst)
    {
        int p = 0;
        if (rows == MR && Avx.IsSupported)
        {
            for (; p + 8 <= kc; p += 8)
            {
                GemmPacking.Transpose8x8(src + p, lda, dst + p * MR, MR);
                GemmPacking.Transpose8x8(src + 4L * lda + p, lda, dst + p * MR + 4, MR);
            }
        }
        for (; p < kc; p++)
        {
            float* d = dst + p * MR;
            int r = 0;
            for (; r < rows; r++) d[r] = src[(long)r * lda + p];
            for (; r < MR; r++) d[r] = 0f;
        }
    }

    /// <summary>One panel from Aᵀ: for each p, 12 consecutive floats of row p of A.</summary>
    private static void PackTransposed(float* src, int lda, int rows, int kc, float* dst)
    {
        if (rows == MR && Avx.IsSupported)
        {
            for (int p = 0; p < kc; p++, src += lda, dst += MR)
            {
                Vector256.Store(Vector256.Load(src), dst);
                Vector128.Store(Vector128.Load(src + 8), dst + 8);
            }
            return;
        }
        for (int p = 0; p < kc; p++, src += lda, dst += MR)
        {
            int r = 0;
            for (; r < rows; r++) dst[r] = src[r];
            for (; r < MR; r++) dst[r] = 0f;
        }
    }
}
