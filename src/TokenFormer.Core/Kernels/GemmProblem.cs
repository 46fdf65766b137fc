namespace TokenFormer.Core.Kernels;

/// <summary>One GEMM call's operands as raw pointers (pinned by the caller) plus its options.</summary>
internal readonly unsafe struct GemmProblem
{
    public readonly GemmForm Form;
    public readonly int M, K, N;
    public readonly float* A, B, C;
    public readonly int Lda, Ldb, Ldc;
    public readonly float Alpha;
    public readonly bool Accumulate;
    public readonly GemmIsa Isa;
    /// <summary>
    /// op(A) already packed in <see cref="GemmPackingA"/>'s panel layout for every k block (block starting at k
    /// offset pc at PackedA + pc·PackedRows), or null when the blocked loop packs A itself.
    /// </summary>
    public readonly float* PackedA;
    /// <summary>M rounded up to whole panels: the row count of each k block of <see cref="PackedA"/>.</summary>
    public readonly int PackedRows;

    public GemmProblem(GemmForm form, int m, int k, int n, float* a, int lda, float* b, int ldb, float* c, int ldc,
        float alpha, bool accumulate, GemmIsa isa)
    {
        Form = form; M = m; K = k; N = n; A = a; Lda = lda; B = b; Ldb = ldb; C = c; Ldc = ldc;
        Alpha = alpha; Accumulate = accumulate; Isa = isa;
    }

    private GemmProblem(in GemmProblem p, float* b, float* c, int n, float* packedA, int packedRows)
        : this(p.Form, p.M, p.K, n, p.A, p.Lda, b, p.Ldb, c, p.Ldc, p.Alpha, p.Accumulate, p.Isa)
    {
        PackedA = packedA; PackedRows = packedRows;
    }

    /// <summary>This problem with op(A) pre-packed at <paramref name="packedA"/> (see <see cref="PackedA"/>).</summary>
    public GemmProblem WithPackedA(float* packedA, int packedRows) => new(this, B, C, N, packedA, packedRows);

    /// <summary>The sub-problem computing rows [m0, m1) of C (it packs its own A).</summary>
    public GemmProblem Rows(int m0, int m1)
    {
        float* a = Form == GemmForm.TN ? A + m0 : A + (long)m0 * Lda;
        return new GemmProblem(Form, m1 - m0, K, N, a, Lda, B, Ldb, C + (long)m0 * Ldc, Ldc, Alpha, Accumulate, Isa);
    }

    /// <summary>The sub-problem computing columns [n0, n1) of C.</summary>
    public GemmProblem Columns(int n0, int n1)
    {
        float* b = Form == GemmForm.NT ? B + (long)n0 * Ldb : B + n0;
        return new GemmProblem(this, b, C + n0, n1 - n0, PackedA, PackedRows);
    }
}
