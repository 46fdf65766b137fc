using System.Runtime.CompilerServices;

namespace TokenFormer.Model.Kernels;

/// <summary>
/// Blocked out-of-place matrix transpose, dst[c, r] = src[r, c], split over threads by row blocks. The model uses it
/// to turn the weight-gradient products Sᵀ·dY and g_Aᵀ·x into NN GEMMs on [n, N] operands, which the GEMM runs
/// faster than the TN form that reads A column-wise (engineering note in ModelRunner).
/// </summary>
public sealed unsafe class Transpose : IRowWork
{
    private const int Block = 16;
    private float* _src, _dst;
    private int _rows, _cols, _lds, _ldd;

    /// <summary>dst [cols, rows] (row stride ldd) ← transpose of src [rows, cols] (row stride lds).</summary>
    public void Run(ReadOnlySpan<float> src, int rows, int cols, int lds, Span<float> dst, int ldd)
    {
        if (rows == 0 || cols == 0) return;
        if ((long)(rows - 1) * lds + cols > src.Length || (long)(cols - 1) * ldd + rows > dst.Length)
            throw new ArgumentException($"Transpose: src [{rows}, {cols}] (ld {lds}) or dst [{cols}, {rows}] (ld {ldd}) exceeds its span");
        fixed (float* s = src, d = dst)
        {
            _src = s; _dst = d; _rows = rows; _cols = cols; _lds = lds; _ldd = ldd;
            RowParallel.Run((rows + Block - 1) / Block, this, 1);
            _src = _dst = null;
        }
    }

    /// <summary>Transposes row blocks [start, end) of the source.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Rows(int start, int end)
    {
        for (int rb = start; rb < end; rb++)
        {
            int r0 = rb * Block, r1 = Math.Min(_rows, r0 + Block);
            for (int c0 = 0; c0 < _cols; c0 += Block)
            {
                int c1 = Math.Min(_cols, c0 + Block);
                for (int c = c0; c < c1; c++)
                {
                    float* d = _dst + (long)c * _ldd;
                    float* s = _src + c;
                    for (int r = r0; r < r1; r++) d[r] = s[(long)r * _lds];
                }
            }
        }
    }
}
