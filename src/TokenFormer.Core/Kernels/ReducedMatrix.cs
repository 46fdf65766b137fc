namespace TokenFormer.Core.Kernels;

/// <summary>
/// A weight matrix W: [Rows, Columns] in a reduced-precision storage (<see cref="ReducedFormat"/>), row-major and
/// contiguous along Columns, the dimension the fast product reduces over: C = A·Wᵀ (<see cref="MultiplyTransposed"/>).
/// The storage is a view into arrays shared with other matrices (an arena laid out like the float32 parameters), so
/// adjacent matrices with the same Columns can be viewed as one. docs/quantization.md describes the formats.
/// </summary>
public sealed class ReducedMatrix
{
    internal readonly ushort[]? Bf16;
    internal readonly sbyte[]? Quants;
    /// <summary>4-bit storage: <see cref="Int4Blocks"/> bytes, rows <see cref="RowStride"/> bytes apart.</summary>
    internal readonly byte[]? Nibbles;
    internal readonly float[]? Scales;
    internal readonly long Offset, ScaleOffset;

    /// <summary>How one-row products over int8 weights run (default: weights widened to float32; <c>TOKENFORMER_INT8_DOT=integer</c>: integer dot products).</summary>
    public static Int8DotMode Int8Dot { get => ReducedProduct.Int8Dot; set => ReducedProduct.Int8Dot = value; }

    /// <summary>The storage format.</summary>
    public ReducedFormat Format { get; }
    /// <summary>Rows of W (outputs of <see cref="MultiplyTransposed"/>).</summary>
    public int Rows { get; }
    /// <summary>Columns of W (the reduction dimension of <see cref="MultiplyTransposed"/>).</summary>
    public int Columns { get; }
    /// <summary>Scale blocks per row (int8, 4-bit; 0 for bfloat16).</summary>
    public int BlocksPerRow { get; }
    /// <summary>Stored elements (bfloat16, int8) or bytes (4-bit: whole blocks) from one row to the next.</summary>
    public int RowStride { get; }
    /// <summary>Bytes a product reads: the values and, for int8 and 4-bit, the scales.</summary>
    public long StoredBytes => Format switch
    {
        ReducedFormat.BFloat16 => 2L * Rows * Columns,
        ReducedFormat.Int8Block32 => (long)Rows * Columns + 4L * Rows * BlocksPerRow,
        _ => (long)Rows * RowStride + 4L * Rows * BlocksPerRow,
    };

    private ReducedMatrix(ReducedFormat format, ushort[]? bf16, sbyte[]? quants, byte[]? nibbles, float[]? scales, long offset, long scaleOffset, int rows, int columns)
    {
        if (rows < 0 || columns < 0 || offset < 0 || scaleOffset < 0) throw new ArgumentException($"a [{rows}, {columns}] matrix at offset {offset} is not valid");
        Format = format; Bf16 = bf16; Quants = quants; Nibbles = nibbles; Scales = scales; Offset = offset; ScaleOffset = scaleOffset; Rows = rows; Columns = columns;
        BlocksPerRow = format switch { ReducedFormat.Int8Block32 => Int8Blocks.BlocksPerRow(columns), ReducedFormat.Int4Block32 => Int4Blocks.BlocksPerRow(columns), _ => 0 };
        RowStride = format == ReducedFormat.Int4Block32 ? Int4Blocks.BytesPerRow(columns) : columns;
    }

    /// <summary>W = bfloat16 <paramref name="data"/>[offset … offset + rows·columns) as [rows, columns].</summary>
    public static ReducedMatrix BFloat16(ushort[] data, long offset, int rows, int columns)
    {
        if (offset + (long)rows * columns > data.LongLength)
            throw new ArgumentException($"a bfloat16 [{rows}, {columns}] matrix at offset {offset} does not fit in {data.LongLength} values");
        return new ReducedMatrix(ReducedFormat.BFloat16, data, null, null, null, offset, 0, rows, columns);
    }

    /// <summary>
    /// W = int8 <paramref name="quants"/>[offset …] as [rows, columns] with scales <paramref name="scales"/>[scaleOffset …]
    /// as [rows, ⌈columns/32⌉].
    /// </summary>
    public static ReducedMatrix Int8(sbyte[] quants, long offset, float[] scales, long scaleOffset, int rows, int columns)
    {
        if (offset + (long)rows * columns > quants.LongLength || scaleOffset + (long)rows * Int8Blocks.BlocksPerRow(columns) > scales.LongLength)
            throw new ArgumentException($"an int8 [{rows}, {columns}] matrix at offset {offset} (scales at {scaleOffset}) does not fit in its arrays");
        return new ReducedMatrix(ReducedFormat.Int8Block32, null, quants, null, scales, offset, scaleOffset, rows, columns);
    }

    /// <summary>
    /// W = 4-bit <paramref name="packed"/>[offset …] as [rows, columns], each row ⌈columns/32⌉·16 bytes
    /// (<see cref="Int4Blocks"/>), with scales <paramref name="scales"/>[scaleOffset …] as [rows, ⌈columns/32⌉].
    /// </summary>
    public static ReducedMatrix Int4(byte[] packed, long offset, float[] scales, long scaleOffset, int rows, int columns)
    {
        if (offset + (long)rows * Int4Blocks.BytesPerRow(columns) > packed.LongLength || scaleOffset + (long)rows * Int4Blocks.BlocksPerRow(columns) > scales.LongLength)
            throw new ArgumentException($"a 4-bit [{rows}, {columns}] matrix at offset {offset} (scales at {scaleOffset}) does not fit in its arrays");
        return new ReducedMatrix(ReducedFormat.Int4Block32, null, null, packed, scales, offset, scaleOffset, rows, columns);
    }

    /// <summary>Rows [<paramref name="first"/>, first + <paramref name="count"/>) of W as a matrix sharing its storage.</summary>
    public ReducedMatrix RowRange(int first, int count)
    {
        if (first < 0 || count < 0 || first > Rows - count)
            throw new ArgumentOutOfRangeException(nameof(first), $"rows [{first}, {(long)first + count}) are not inside the matrix's {Rows} rows");
        return new ReducedMatrix(Format, Bf16, Quants, Nibbles, Scales, Offset + (long)first * RowStride, ScaleOffset + (long)first * BlocksPerRow, count, Columns);
    }

    /// <summary>Row <paramref name="row"/> of W as float32 into <paramref name="destination"/> [Columns].</summary>
    public void DequantizeRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside [0, {Rows})");
        if (destination.Length < Columns) throw new ArgumentException($"destination holds {destination.Length} floats, a row has {Columns}");
        long o = Offset + (long)row * RowStride;
        if (Format == ReducedFormat.BFloat16)
            Kernels.BFloat16.ToFloat(Bf16.AsSpan(checked((int)o), Columns), destination[..Columns]);
        else if (Format == ReducedFormat.Int8Block32)
            Int8Blocks.DequantizeRow(Quants.AsSpan(checked((int)o), Columns),
                Scales.AsSpan(checked((int)(ScaleOffset + (long)row * BlocksPerRow)), BlocksPerRow), destination[..Columns]);
        else
            unsafe
            {
                fixed (float* d = destination) Int4RowKernel.WidenRow(this, row, d);
            }
    }

    /// <summary>The value of W[row, column] as float32 (slow; tests and odd products).</summary>
    public float Value(int row, int column)
    {
        long o = Offset + (long)row * RowStride;
        float scale = Format == ReducedFormat.BFloat16 ? 0 : Scales![ScaleOffset + (long)row * BlocksPerRow + column / 32];
        return Format switch
        {
            ReducedFormat.BFloat16 => Kernels.BFloat16.ToFloat(Bf16![o + column]),
            ReducedFormat.Int8Block32 => scale * Quants![o + column],
            _ => scale * Int4Blocks.Quant(Nibbles.AsSpan(checked((int)(o + column / 32 * Int4Blocks.BytesPerBlock)), Int4Blocks.BytesPerBlock), column % 32),
        };
    }

    /// <summary>Column <paramref name="column"/> of W as float32 into <paramref name="destination"/> [Rows].</summary>
    public void ReadColumn(int column, Span<float> destination)
    {
        if ((uint)column >= (uint)Columns) throw new ArgumentOutOfRangeException(nameof(column), $"column {column} is outside [0, {Columns})");
        for (int r = 0; r < Rows; r++) destination[r] = Value(r, column);
    }

    /// <summary>
    /// C[m, Rows] (+)= A[m, Columns]·Wᵀ: 1–8 rows stream W once with the values widened in registers (decode); more rows
    /// run Core's GEMM, which widens each block of W to float32 while it packs it (prefill).
    /// </summary>
    public void MultiplyTransposed(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate) =>
        ReducedProduct.Run(this, m, a, aOffset, lda, c, cOffset, ldc, accumulate, SimdPaths.Current);

    /// <summary>
    /// C[m, Columns] (+)= A[m, Rows]·W (the other orientation: a backward product, or a product a model does not read
    /// this way). Correct but not a fast path: each row of W is widened once per call and added into every row of C.
    /// </summary>
    public void Multiply(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate)
    {
        if (m < 0 || (m > 0 && ((long)aOffset + (long)(m - 1) * lda + Rows > a.Length || (long)cOffset + (long)(m - 1) * ldc + Columns > c.Length)))
            throw new ArgumentException($"product [{m}, {Rows}]·[{Rows}, {Columns}]: an operand is shorter than its shape");
        if (!accumulate)
            for (int i = 0; i < m; i++) c.AsSpan(cOffset + i * ldc, Columns).Clear();
        var row = new float[Columns];
        for (int j = 0; j < Rows; j++)
        {
            DequantizeRow(j, row);
            for (int i = 0; i < m; i++)
            {
                float s = a[aOffset + i * lda + j];
                if (s == 0) continue;
                Span<float> ci = c.AsSpan(cOffset + i * ldc, Columns);
                for (int q = 0; q < Columns; q++) ci[q] += s * row[q];
            }
        }
    }
}
