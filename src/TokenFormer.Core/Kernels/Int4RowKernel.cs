using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// One row of A against 4-bit rows [j0, j1) of W (<see cref="Int4Blocks"/>), for products of 1–8 rows (decode): each
/// block's 16 bytes are unpacked with a mask and a shift into its 32 signed values on the stack (they stay in L1),
/// widened to float32 as int8 weights are and multiplied by x; each block's sum is then scaled. One generic body serves
/// AVX-512, AVX2 and scalar machines; the twin is <see cref="ReducedProductReference"/> (every weight through
/// <see cref="ReducedMatrix.Value"/>, sums in double). Longer products widen W into float32 panels first
/// (<see cref="ReducedProduct"/>).
/// </summary>
internal static unsafe class Int4RowKernel
{
    /// <summary>y[j] (+)= x · W[j] for j in [j0, j1); x: [Columns], y: [Rows].</summary>
    public static void Run(ReducedMatrix w, int j0, int j1, float* x, float* y, bool accumulate, SimdPath path)
    {
        if (path == SimdPath.Vector512) Rows<Vector512<float>, Float512>(w, j0, j1, x, y, accumulate);
        else if (path == SimdPath.Vector256) Rows<Vector256<float>, Float256>(w, j0, j1, x, y, accumulate);
        else Rows<float, Float1>(w, j0, j1, x, y, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TV, TW>(ReducedMatrix w, int j0, int j1, float* x, float* y, bool accumulate) where TV : struct where TW : IFloatVector<TV>
    {
        const int bs = Int4Blocks.BlockSize, bytes = Int4Blocks.BytesPerBlock;
        int k = w.Columns, blocks = w.BlocksPerRow, full = k / bs, stride = w.RowStride, n = TW.Count;
        sbyte* q = stackalloc sbyte[bs];
        Vector128<byte> low = Vector128.Create((byte)0x0F);
        Vector128<sbyte> eight = Vector128.Create((sbyte)8);
        fixed (byte* wn = w.Nibbles)
        fixed (float* ws = w.Scales)
        {
            for (int j = j0; j < j1; j++)
            {
                byte* row = wn + w.Offset + (long)j * stride;
                float* scales = ws + w.ScaleOffset + (long)j * blocks;
                TV acc0 = TW.Create(0), acc1 = TW.Create(0);
                int b = 0;
                for (; b < full; b++)
                {
                    Vector128<byte> v = Vector128.Load(row + b * bytes);
                    ((v & low).AsSByte() - eight).Store(q);
                    ((Vector128.ShiftRightLogical(v, 4) & low).AsSByte() - eight).Store(q + bytes);
                    float* xb = x + b * bs;
                    TV part = TW.Multiply(TW.Load(xb), TW.LoadInt8(q));
                    for (int i = n; i < bs; i += n) part = TW.MultiplyAdd(TW.Load(xb + i), TW.LoadInt8(q + i), part);
                    // two accumulators, so that consecutive blocks do not wait on each other's multiply-add
                    if ((b & 1) == 0) acc0 = TW.MultiplyAdd(part, TW.Create(scales[b]), acc0);
                    else acc1 = TW.MultiplyAdd(part, TW.Create(scales[b]), acc1);
                }
                float s = TW.Sum(TW.Add(acc0, acc1));
                for (; b < blocks; b++)
                {
                    // the partial last block of a row whose length is not a multiple of 32
                    var block = new ReadOnlySpan<byte>(row + b * bytes, bytes);
                    float part = 0;
                    for (int i = b * bs; i < k; i++) part += x[i] * Int4Blocks.Quant(block, i - b * bs);
                    s += part * scales[b];
                }
                y[j] = accumulate ? y[j] + s : s;
            }
        }
    }
}
