using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Packs blocks of Wᵀ for Core's GEMM straight from a <see cref="ReducedMatrix"/> W: [N, K] (the NT product A·Wᵀ of a
/// prefill): eight rows of W at a time, eight values of each widened to float32 in a register (bfloat16: zero-extend and
/// shift; int8: sign-extend, convert, times the block's scale; 4-bit: zero-extend, shift and mask the nibbles, minus 8,
/// convert, times the scale), transposed in registers and stored as eight columns of
/// the panel. The weights are widened once per packed block, where the float32 path copies them anyway, instead of into
/// a separate float32 panel first; A is packed once for the whole product (docs/quantization.md, "Prefill widened while
/// packing").
/// </summary>
internal sealed unsafe class ReducedPacking : IGemmBSource
{
    private ReducedMatrix? _w;

    /// <summary>The matrix the next products read (set by the calling thread before the GEMM, cleared after).</summary>
    public ReducedMatrix? Matrix { get => _w; set => _w = value; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PackB(int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        ReducedMatrix w = _w ?? throw new InvalidOperationException("no matrix to pack");
        int k = w.Columns, p8 = kc & ~7;
        bool bf16 = w.Format == ReducedFormat.BFloat16, int4 = w.Format == ReducedFormat.Int4Block32;
        fixed (ushort* wb = w.Bf16)
        fixed (sbyte* wq = w.Quants)
        fixed (byte* wn = w.Nibbles)
        fixed (float* ws = w.Scales)
        {
            for (int jr = 0; jr < nc; jr += nr)
            {
                float* d = dst + (long)(jr / nr) * kc * nr;
                for (int j = 0; j < nr; j += 8)
                {
                    int row0 = jc + jr + j, rows = Math.Min(8, nc - jr - j);
                    if (rows < 8) { PackEdge(w, row0, Math.Max(0, rows), pc, kc, d + j, nr); continue; }
                    if (bf16)
                    {
                        ushort* src = wb + w.Offset + (long)row0 * k + pc;
                        for (int p = 0; p < p8; p += 8) Bf16Block8x8(src + p, k, d + (long)p * nr + j, nr);
                    }
                    else if (int4)
                    {
                        byte* src = wn + w.Offset + (long)row0 * w.RowStride;
                        float* scales = ws + w.ScaleOffset + (long)row0 * w.BlocksPerRow;
                        for (int p = 0; p < p8; p += 8) Int4Block8x8(src, w.RowStride, scales, w.BlocksPerRow, pc + p, d + (long)p * nr + j, nr);
                    }
                    else
                    {
                        sbyte* src = wq + w.Offset + (long)row0 * k + pc;
                        float* scales = ws + w.ScaleOffset + (long)row0 * w.BlocksPerRow;
                        for (int p = 0; p < p8; p += 8) Int8Block8x8(src + p, k, scales + ((pc + p) >> 5), w.BlocksPerRow, d + (long)p * nr + j, nr);
                    }
                    for (int p = p8; p < kc; p++)
                        for (int r = 0; r < 8; r++) d[(long)p * nr + j + r] = w.Value(row0 + r, pc + p);
                }
            }
        }
    }

    /// <summary>Columns of a panel past the last row of W (or a part of eight): the rows there, zeros after.</summary>
    private static void PackEdge(ReducedMatrix w, int row0, int rows, int pc, int kc, float* d, int nr)
    {
        for (int p = 0; p < kc; p++)
            for (int r = 0; r < 8; r++) d[(long)p * nr + r] = r < rows ? w.Value(row0 + r, pc + p) : 0f;
    }

    /// <summary>Eight bfloat16 rows (stride k) × eight values → eight float32 columns of the panel (stride nr).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Bf16Block8x8(ushort* src, long k, float* d, int nr) =>
        GemmPacking.Transpose8x8(Bf16(src), Bf16(src + k), Bf16(src + 2 * k), Bf16(src + 3 * k),
            Bf16(src + 4 * k), Bf16(src + 5 * k), Bf16(src + 6 * k), Bf16(src + 7 * k), d, nr);

    /// <summary>Eight int8 rows (stride k; scales of the block at s, stride blocks) × eight values → eight panel columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Int8Block8x8(sbyte* src, long k, float* s, long blocks, float* d, int nr) =>
        GemmPacking.Transpose8x8(Int8(src, s[0]), Int8(src + k, s[blocks]), Int8(src + 2 * k, s[2 * blocks]), Int8(src + 3 * k, s[3 * blocks]),
            Int8(src + 4 * k, s[4 * blocks]), Int8(src + 5 * k, s[5 * blocks]), Int8(src + 6 * k, s[6 * blocks]), Int8(src + 7 * k, s[7 * blocks]), d, nr);

    /// <summary>
    /// Eight 4-bit rows (stride bytes apart; scales at s, stride blocks) × the eight values from column
    /// <paramref name="column"/> (a multiple of 8, so they are one half-block's low or high nibbles of eight consecutive
    /// bytes) → eight panel columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Int4Block8x8(byte* src, long stride, float* s, long blocks, int column, float* d, int nr)
    {
        int b = column >> 5, o = column & 31;
        byte shift = (byte)(o < 16 ? 0 : 4);
        byte* p = src + b * Int4Blocks.BytesPerBlock + (o & 15);
        s += b;
        GemmPacking.Transpose8x8(Int4(p, shift, s[0]), Int4(p + stride, shift, s[blocks]), Int4(p + 2 * stride, shift, s[2 * blocks]),
            Int4(p + 3 * stride, shift, s[3 * blocks]), Int4(p + 4 * stride, shift, s[4 * blocks]), Int4(p + 5 * stride, shift, s[5 * blocks]),
            Int4(p + 6 * stride, shift, s[6 * blocks]), Int4(p + 7 * stride, shift, s[7 * blocks]), d, nr);
    }

    /// <summary>Eight nibbles (the low or high halves of the 8 bytes at p) as float32: (q − 8)·scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Int4(byte* p, byte shift, float scale)
    {
        Vector256<int> q = Vector256.ShiftRightLogical(Avx2.ConvertToVector256Int32(p), shift) & Vector256.Create(0xF);
        return Avx.ConvertToVector256Single(q - Vector256.Create(8)) * Vector256.Create(scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Bf16(ushort* p) => Float256.LoadBFloat16(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Int8(sbyte* p, float scale) => Float256.LoadInt8(p) * Vector256.Create(scale);
}
