using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Products over 4-bit rows of W (<see cref="Int4Blocks"/>) for 1–8 rows of A (decode, the serving batches). Each
/// block's 16 bytes are unpacked with a mask and a shift into its 32 signed values on the stack (they stay in L1), then
/// sign-extended and converted as int8 weights are. One row of A: multiplied straight into a per-block sum, which is
/// then scaled. More rows: the row of W is widened once into a float32 row (also in L1) and dotted with every row of
/// A, so a batch reads and unpacks W once. The same widening serves <see cref="ReducedMatrix.DequantizeRow"/> (the
/// embedding lookup, the scalar path's panels); longer products widen while packing (<see cref="ReducedPacking"/>). One generic body serves AVX-512, AVX2 and
/// scalar machines; the twin is <see cref="ReducedProductReference"/> (every weight through
/// <see cref="ReducedMatrix.Value"/>, sums in double).
/// </summary>
internal static unsafe class Int4RowKernel
{
    private const int BlockSize = Int4Blocks.BlockSize, BlockBytes = Int4Blocks.BytesPerBlock;

    [ThreadStatic] private static float[]? _row;

    /// <summary>C[i, j] (+)= A[i]·W[j] for i &lt; m, j in [j0, j1); A rows <paramref name="lda"/> apart, C rows <paramref name="ldc"/>.</summary>
    public static void Run(ReducedMatrix w, int j0, int j1, int m, float* a, long lda, float* c, long ldc, bool accumulate, SimdPath path)
    {
        // the widened rows of W are only needed when several rows of A share them
        float[]? row = m == 1 ? null : _row is { } r && r.Length >= 4 * w.Columns ? r : (_row = new float[4 * w.Columns]);
        fixed (byte* wn = w.Nibbles)
        fixed (float* ws = w.Scales, buffer = row)
        {
            byte* w0 = wn + w.Offset;
            float* s0 = ws + w.ScaleOffset;
            if (path == SimdPath.Vector512) Rows<Vector512<float>, Float512>(w, w0, s0, j0, j1, m, a, lda, c, ldc, accumulate, buffer);
            else if (path == SimdPath.Vector256) Rows<Vector256<float>, Float256>(w, w0, s0, j0, j1, m, a, lda, c, ldc, accumulate, buffer);
            else Rows<float, Float1>(w, w0, s0, j0, j1, m, a, lda, c, ldc, accumulate, buffer);
        }
    }

    /// <summary>Row <paramref name="row"/> of W widened to float32 into <paramref name="destination"/> [Columns] (the best SIMD path).</summary>
    public static void WidenRow(ReducedMatrix w, int row, float* destination)
    {
        sbyte* q = stackalloc sbyte[BlockSize];
        fixed (byte* wn = w.Nibbles)
        fixed (float* ws = w.Scales)
        {
            byte* p = wn + w.Offset + (long)row * w.RowStride;
            float* scales = ws + w.ScaleOffset + (long)row * w.BlocksPerRow;
            if (SimdPaths.Current == SimdPath.Vector512) Widen<Vector512<float>, Float512>(p, scales, w.Columns, q, destination);
            else if (SimdPaths.Current == SimdPath.Vector256) Widen<Vector256<float>, Float256>(p, scales, w.Columns, q, destination);
            else Widen<float, Float1>(p, scales, w.Columns, q, destination);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TV, TW>(ReducedMatrix w, byte* w0, float* s0, int j0, int j1, int m, float* a, long lda, float* c, long ldc, bool accumulate, float* buffer)
        where TV : struct where TW : IFloatVector<TV>
    {
        int k = w.Columns, blocks = w.BlocksPerRow, full = k / BlockSize, stride = w.RowStride, n = TW.Count;
        sbyte* q = stackalloc sbyte[BlockSize];
        float* t = stackalloc float[16];
        for (int j = j0; j < j1; j++)
        {
            byte* row = w0 + (long)j * stride;
            float* scales = s0 + (long)j * blocks;
            if (m == 1 && typeof(TV) == typeof(Vector512<float>))
            {
                float s = Row1V512(row, scales, full, a);
                for (int b = full; b < blocks; b++) s += scales[b] * TailDot(row + b * BlockBytes, a + b * BlockSize, k - b * BlockSize);
                c[j] = accumulate ? c[j] + s : s;
                continue;
            }
            if (m == 1)
            {
                TV acc0 = TW.Create(0), acc1 = TW.Create(0);
                int b = 0;
                for (; b < full; b++)
                {
                    Unpack(row + b * BlockBytes, q);
                    float* xb = a + b * BlockSize;
                    TV part = TW.Multiply(TW.Load(xb), TW.LoadInt8(q));
                    for (int i = n; i < BlockSize; i += n) part = TW.MultiplyAdd(TW.Load(xb + i), TW.LoadInt8(q + i), part);
                    // two accumulators, so that consecutive blocks do not wait on each other's multiply-add
                    if ((b & 1) == 0) acc0 = TW.MultiplyAdd(part, TW.Create(scales[b]), acc0);
                    else acc1 = TW.MultiplyAdd(part, TW.Create(scales[b]), acc1);
                }
                float s = TW.Sum(TW.Add(acc0, acc1));
                for (; b < blocks; b++) s += scales[b] * TailDot(row + b * BlockBytes, a + b * BlockSize, k - b * BlockSize);
                c[j] = accumulate ? c[j] + s : s;
                continue;
            }
            if (j + 4 <= j1)
            {
                // four rows of W widened, then 4×4 tiles against the rows of A: each loaded vector feeds four multiply-adds
                for (int g = 0; g < 4; g++) Widen<TV, TW>(row + g * stride, scales + g * blocks, k, q, buffer + g * k);
                for (int r0 = 0; r0 < m; r0 += 4)
                {
                    // rows past m repeat the last row of A; their results are dropped
                    float* x0 = a + r0 * lda, x1 = a + Math.Min(r0 + 1, m - 1) * lda, x2 = a + Math.Min(r0 + 2, m - 1) * lda, x3 = a + Math.Min(r0 + 3, m - 1) * lda;
                    Dot4x4<TV, TW>(x0, x1, x2, x3, buffer, k, t);
                    for (int r = r0; r < Math.Min(m, r0 + 4); r++)
                        for (int g = 0; g < 4; g++)
                        {
                            float* y = c + r * ldc + j + g;
                            *y = accumulate ? *y + t[(r - r0) * 4 + g] : t[(r - r0) * 4 + g];
                        }
                }
                j += 3;
                continue;
            }
            Widen<TV, TW>(row, scales, k, q, buffer);
            for (int r = 0; r < m; r++)
            {
                float* x = a + r * lda;
                TV d0 = TW.Create(0), d1 = d0;
                int i = 0;
                for (; i + 2 * n <= k; i += 2 * n)
                {
                    d0 = TW.MultiplyAdd(TW.Load(x + i), TW.Load(buffer + i), d0);
                    d1 = TW.MultiplyAdd(TW.Load(x + i + n), TW.Load(buffer + i + n), d1);
                }
                float s = TW.Sum(TW.Add(d0, d1));
                for (; i < k; i++) s += x[i] * buffer[i];
                float* y = c + r * ldc + j;
                *y = accumulate ? *y + s : s;
            }
        }
    }

    /// <summary>t[r·4 + g] = x_r · w_g for four rows x of A and four widened rows w of W (<paramref name="w"/>, <paramref name="k"/> apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4x4<TV, TW>(float* x0, float* x1, float* x2, float* x3, float* w, int k, float* t) where TV : struct where TW : IFloatVector<TV>
    {
        int n = TW.Count, i = 0;
        TV z = TW.Create(0);
        TV a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z, a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        for (; i + n <= k; i += n)
        {
            TV w0 = TW.Load(w + i), w1 = TW.Load(w + k + i), w2 = TW.Load(w + 2 * k + i), w3 = TW.Load(w + 3 * k + i);
            TV v = TW.Load(x0 + i);
            a00 = TW.MultiplyAdd(v, w0, a00); a01 = TW.MultiplyAdd(v, w1, a01); a02 = TW.MultiplyAdd(v, w2, a02); a03 = TW.MultiplyAdd(v, w3, a03);
            v = TW.Load(x1 + i);
            a10 = TW.MultiplyAdd(v, w0, a10); a11 = TW.MultiplyAdd(v, w1, a11); a12 = TW.MultiplyAdd(v, w2, a12); a13 = TW.MultiplyAdd(v, w3, a13);
            v = TW.Load(x2 + i);
            a20 = TW.MultiplyAdd(v, w0, a20); a21 = TW.MultiplyAdd(v, w1, a21); a22 = TW.MultiplyAdd(v, w2, a22); a23 = TW.MultiplyAdd(v, w3, a23);
            v = TW.Load(x3 + i);
            a30 = TW.MultiplyAdd(v, w0, a30); a31 = TW.MultiplyAdd(v, w1, a31); a32 = TW.MultiplyAdd(v, w2, a32); a33 = TW.MultiplyAdd(v, w3, a33);
        }
        t[0] = TW.Sum(a00); t[1] = TW.Sum(a01); t[2] = TW.Sum(a02); t[3] = TW.Sum(a03);
        t[4] = TW.Sum(a10); t[5] = TW.Sum(a11); t[6] = TW.Sum(a12); t[7] = TW.Sum(a13);
        t[8] = TW.Sum(a20); t[9] = TW.Sum(a21); t[10] = TW.Sum(a22); t[11] = TW.Sum(a23);
        t[12] = TW.Sum(a30); t[13] = TW.Sum(a31); t[14] = TW.Sum(a32); t[15] = TW.Sum(a33);
        for (; i < k; i++)
            for (int g = 0; g < 4; g++)
            {
                float wg = w[g * k + i];
                t[g] += x0[i] * wg; t[4 + g] += x1[i] * wg; t[8 + g] += x2[i] * wg; t[12 + g] += x3[i] * wg;
            }
    }

    /// <summary>Σ over the first <paramref name="full"/> blocks of one row of W with x (AVX-512): the unpacked halves widened in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Row1V512(byte* row, float* scales, int full, float* x)
    {
        Vector128<byte> low = Vector128.Create((byte)0x0F);
        Vector128<sbyte> eight = Vector128.Create((sbyte)8);
        Vector512<float> acc0 = default, acc1 = default;
        int b = 0;
        for (; b + 2 <= full; b += 2)
        {
            Vector128<byte> v0 = Vector128.Load(row + b * BlockBytes), v1 = Vector128.Load(row + (b + 1) * BlockBytes);
            float* xb = x + b * BlockSize;
            Vector512<float> p0 = Vector512.Load(xb) * Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32((v0 & low).AsSByte() - eight));
            Vector512<float> p1 = Vector512.Load(xb + 32) * Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32((v1 & low).AsSByte() - eight));
            p0 = Avx512F.FusedMultiplyAdd(Vector512.Load(xb + 16), Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32((Vector128.ShiftRightLogical(v0, 4) & low).AsSByte() - eight)), p0);
            p1 = Avx512F.FusedMultiplyAdd(Vector512.Load(xb + 48), Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32((Vector128.ShiftRightLogical(v1, 4) & low).AsSByte() - eight)), p1);
            acc0 = Avx512F.FusedMultiplyAdd(p0, Vector512.Create(scales[b]), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(p1, Vector512.Create(scales[b + 1]), acc1);
        }
        if (b < full)
        {
            Vector128<byte> v0 = Vector128.Load(row + b * BlockBytes);
            float* xb = x + b * BlockSize;
            Vector512<float> p0 = Vector512.Load(xb) * Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32((v0 & low).AsSByte() - eight));
            p0 = Avx512F.FusedMultiplyAdd(Vector512.Load(xb + 16), Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32((Vector128.ShiftRightLogical(v0, 4) & low).AsSByte() - eight)), p0);
            acc0 = Avx512F.FusedMultiplyAdd(p0, Vector512.Create(scales[b]), acc0);
        }
        return Vector512.Sum(acc0 + acc1);
    }

    /// <summary>A block's 16 bytes → its 32 values q − 8 in order at <paramref name="q"/> (low nibbles: values 0–15, high: 16–31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unpack(byte* block, sbyte* q)
    {
        Vector128<byte> v = Vector128.Load(block), low = Vector128.Create((byte)0x0F);
        Vector128<sbyte> eight = Vector128.Create((sbyte)8);
        ((v & low).AsSByte() - eight).Store(q);
        ((Vector128.ShiftRightLogical(v, 4) & low).AsSByte() - eight).Store(q + BlockBytes);
    }

    /// <summary>Σ x·q over the first <paramref name="count"/> (&lt; 32) values of a partial last block.</summary>
    private static float TailDot(byte* block, float* x, int count)
    {
        var b = new ReadOnlySpan<byte>(block, BlockBytes);
        float s = 0;
        for (int i = 0; i < count; i++) s += x[i] * Int4Blocks.Quant(b, i);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen<TV, TW>(byte* row, float* scales, int k, sbyte* q, float* destination) where TV : struct where TW : IFloatVector<TV>
    {
        int full = k / BlockSize, n = TW.Count;
        for (int b = 0; b < full; b++)
        {
            Unpack(row + b * BlockBytes, q);
            TV s = TW.Create(scales[b]);
            float* d = destination + b * BlockSize;
            for (int i = 0; i < BlockSize; i += n) TW.Store(TW.Multiply(TW.LoadInt8(q + i), s), d + i);
        }
        if (full * BlockSize < k)
        {
            var block = new ReadOnlySpan<byte>(row + full * BlockBytes, BlockBytes);
            for (int i = full * BlockSize; i < k; i++) destination[i] = scales[full] * Int4Blocks.Quant(block, i - full * BlockSize);
        }
    }
}
