using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Packing of B into the micro-kernel's panel layout: block [kc, nc] → panels of NR columns, element (p, j)
/// at (j / NR)·kc·NR + p·NR + j % NR; columns past the matrix edge are zero. (A is read in place.)
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc]; op(B) is B (NN, TN; B: [K,N]) or Bᵀ (NT; B: [N,K]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
            else if (cols == nr && Avx.IsSupported)
            {
                // Transpose 8×8 blocks: rows j..j+7 of B (contiguous in p) become 8-float runs of the panel.
                float* rowBase = b + (long)(jc + jr) * ldb + pc;
                int p8 = kc & ~7;
                for (int j = 0; j < nr; j += 8)
                {
                    float* src = rowBase + (long)j * ldb;
                    for (int p = 0; p < p8; p += 8) Transpose8x8(src + p, ldb, d + (long)p * nr + j, nr);
                    for (int p = p8; p < kc; p++)
                        for (int jj = 0; jj < 8; jj++) d[(long)p * nr + j + jj] = src[(long)jj * ldb + p];
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

    /// <summary>dst[i·ldd + r] = src[r·lds + i] for an 8×8 block (AVX unpack/shuffle/permute transpose).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, long lds, float* dst, long ldd) =>
        Transpose8x8(Avx.LoadVector256(src), Avx.LoadVector256(src + lds), Avx.LoadVector256(src + 2 * lds), Avx.LoadVector256(src + 3 * lds),
            Avx.LoadVector256(src + 4 * lds), Avx.LoadVector256(src + 5 * lds), Avx.LoadVector256(src + 6 * lds), Avx.LoadVector256(src + 7 * lds), dst, ldd);

    /// <summary>dst[i·ldd + r] = element i of r<sub>r</sub>: eight rows held in registers, stored as eight columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, long ldd)
    {
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
