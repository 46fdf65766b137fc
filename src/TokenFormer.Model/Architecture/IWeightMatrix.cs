namespace TokenFormer.Model.Architecture;

/// <summary>
/// The one seam through which the model reads a weight matrix W: [Rows, Columns] (a Pattention's key or value
/// tokens, or the tied embedding). Every forward and backward product with a weight goes through these three
/// calls, so another storage (reduced precision, blocked quantisation) plugs in by implementing them, without
/// touching the block code. Operands are float32 arrays with offsets and row strides (in floats).
/// </summary>
public interface IWeightMatrix
{
    /// <summary>Rows of W (parameter tokens n, or the vocabulary V).</summary>
    int Rows { get; }
    /// <summary>Columns of W (the width the tokens live in).</summary>
    int Columns { get; }

    /// <summary>C[m, Rows] (+)= A[m, Columns]·Wᵀ (the score product x·K_Pᵀ, the output head z·Eᵀ).</summary>
    void MultiplyTransposed(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate);

    /// <summary>C[m, Columns] (+)= A[m, Rows]·W (the value product S·V_P, the input gradient g·K_P).</summary>
    void Multiply(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate);

    /// <summary>Copies row <paramref name="row"/> of W into <paramref name="destination"/> [Columns] (embedding lookup).</summary>
    void ReadRow(int row, Span<float> destination);

    /// <summary>
    /// Rows [<paramref name="first"/>, first + <paramref name="count"/>) of W as a matrix of their own, sharing W's storage
    /// (the tied head in vocabulary slices, so that scoring never holds a whole [rows, V] logit matrix). Available where
    /// W's rows are stored contiguously: float32 matrices and the reduced formats' key tokens and embedding; a reduced
    /// value-token matrix (stored transposed) throws <see cref="NotSupportedException"/>.
    /// </summary>
    IWeightMatrix RowRange(int first, int count);
}
