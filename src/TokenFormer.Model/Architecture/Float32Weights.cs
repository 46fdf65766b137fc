using TokenFormer.Core.Kernels;
using TokenFormer.Model.Inference;

namespace TokenFormer.Model.Architecture;

/// <summary>The weights of a <see cref="TokenFormerModel"/> read in place from its float32 parameter arena.</summary>
public sealed class Float32Weights(TokenFormerModel model) : IWeightSource
{
    /// <inheritdoc/>
    public IWeightMatrix Matrix(ParameterTensor tensor)
    {
        if (tensor.Shape.Length != 2) throw new ArgumentException($"'{tensor.Name}' is not a matrix");
        return new Float32Matrix(model.Parameters, tensor.Offset, tensor.Shape[0], tensor.Shape[1]);
    }

    /// <inheritdoc/>
    public ReadOnlyMemory<float> Vector(ParameterTensor tensor) => model.Parameters.AsMemory(tensor.Offset, tensor.Length);
}

/// <summary>
/// A float32 matrix W [Rows, Columns] at an offset of an array (row-major). Products with 2–8 rows (a decode step of
/// a few sequences) go through <see cref="SmallBatchProduct"/>, which reads W once whatever the number of rows;
/// others through Core's GEMM (GEMV for one row).
/// </summary>
public sealed class Float32Matrix : IWeightMatrix
{
    [ThreadStatic] private static SmallBatchProduct? _small;
    private readonly float[] _data;
    private readonly int _offset;

    /// <inheritdoc/>
    public int Rows { get; }
    /// <inheritdoc/>
    public int Columns { get; }

    /// <summary>W = <paramref name="data"/>[offset … offset + rows·columns) as [rows, columns].</summary>
    public Float32Matrix(float[] data, int offset, int rows, int columns)
    {
        if (offset < 0 || rows < 0 || columns < 0 || (long)offset + (long)rows * columns > data.Length)
            throw new ArgumentException($"a [{rows}, {columns}] matrix at offset {offset} does not fit in {data.Length} floats");
        _data = data; _offset = offset; Rows = rows; Columns = columns;
    }

    /// <inheritdoc/>
    public void MultiplyTransposed(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate) =>
        Product(GemmForm.NT, m, Columns, Rows, a, aOffset, lda, c, cOffset, ldc, accumulate);

    /// <inheritdoc/>
    public void Multiply(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate) =>
        Product(GemmForm.NN, m, Rows, Columns, a, aOffset, lda, c, cOffset, ldc, accumulate);

    /// <inheritdoc/>
    public void ReadRow(int row, Span<float> destination) =>
        _data.AsSpan(_offset + row * Columns, Columns).CopyTo(destination);

    /// <inheritdoc/>
    public IWeightMatrix RowRange(int first, int count)
    {
        if (first < 0 || count < 0 || first > Rows - count)
            throw new ArgumentOutOfRangeException(nameof(first), $"rows [{first}, {(long)first + count}) are not inside the matrix's {Rows} rows");
        return new Float32Matrix(_data, _offset + first * Columns, count, Columns);
    }

    /// <summary>C[m, n] (+)= A[m, k]·op(W), W as B ([n, k] for NT, [k, n] for NN; row stride Columns either way).</summary>
    private void Product(GemmForm form, int m, int k, int n, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate)
    {
        if (m >= 2 && m <= SmallBatchProduct.MaxRows && SmallBatchProduct.IsSupported)
            SmallProduct(Math.Max(k, n)).Run(form == GemmForm.NT, m, k, n, a, aOffset, lda, _data, _offset, c, cOffset, ldc, accumulate);
        else
            Gemm.Compute(form, m, k, n, a.AsSpan(aOffset), lda, _data.AsSpan(_offset, k * n), Columns, c.AsSpan(cOffset), ldc, 1f, accumulate);
    }

    /// <summary>The calling thread's small-batch product with scratch for widths up to at least <paramref name="width"/>.</summary>
    private static SmallBatchProduct SmallProduct(int width) =>
        _small is { } s && s.MaxWidth >= width ? s : (_small = new SmallBatchProduct(Math.Max(width, _small?.MaxWidth ?? 0)));
}
