namespace TokenFormer.Core.Kernels;

/// <summary>Shape and aliasing checks shared by every GEMM entry point.</summary>
internal static class GemmArguments
{
    public static void Validate(GemmForm form, int m, int k, int n,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, ReadOnlySpan<float> c, int ldc)
    {
        if (m < 0 || k < 0 || n < 0)
            throw new ArgumentException($"GEMM {form}: dimensions must not be negative (M={m}, K={k}, N={n})");
        (int aRows, int aCols) = form == GemmForm.TN ? (k, m) : (m, k);
        (int bRows, int bCols) = form == GemmForm.NT ? (n, k) : (k, n);
        CheckMatrix(form, "A", a.Length, aRows, aCols, lda, m, k, n);
        CheckMatrix(form, "B", b.Length, bRows, bCols, ldb, m, k, n);
        CheckMatrix(form, "C", c.Length, m, n, ldc, m, k, n);
        if (m > 0 && n > 0)
        {
            if (k > 0 && Overlaps(c, RequiredLength(m, n, ldc), a, RequiredLength(aRows, aCols, lda)))
                throw new ArgumentException(
                    $"GEMM {form}: output C [{m}, {n}] overlaps input A [{aRows}, {aCols}] (M={m}, K={k}, N={n})");
            if (k > 0 && Overlaps(c, RequiredLength(m, n, ldc), b, RequiredLength(bRows, bCols, ldb)))
                throw new ArgumentException(
                    $"GEMM {form}: output C [{m}, {n}] overlaps input B [{bRows}, {bCols}] (M={m}, K={k}, N={n})");
        }
    }

    /// <summary>Floats a row-major [rows, cols] matrix with leading dimension ld spans.</summary>
    public static long RequiredLength(int rows, int cols, int ld) =>
        rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;

    private static void CheckMatrix(GemmForm form, string name, int length, int rows, int cols, int ld, int m, int k, int n)
    {
        if (ld < cols || ld < 0)
            throw new ArgumentException(
                $"GEMM {form}: leading dimension of {name} is {ld} but {name} is [{rows}, {cols}] (M={m}, K={k}, N={n})");
        long need = RequiredLength(rows, cols, ld);
        if (length < need)
            throw new ArgumentException(
                $"GEMM {form}: {name} should be [{rows}, {cols}] with leading dimension {ld} ({need} floats) " +
                $"but has {length} floats (M={m}, K={k}, N={n})");
    }

    private static bool Overlaps(ReadOnlySpan<float> c, long cLen, ReadOnlySpan<float> x, long xLen) =>
        cLen > 0 && xLen > 0 && c[..(int)cLen].Overlaps(x[..(int)xLen]);
}
