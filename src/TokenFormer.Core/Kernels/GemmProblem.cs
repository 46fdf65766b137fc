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
    /// <summary>
    /// Packs blocks of op(B) itself when B is not a float32 matrix (reduced-precision weights: widened while packed);
    /// then <see cref="B"/> is null and <see cref="BColumn0"/> is this (sub)problem's first column of op(B).
    /// </summary>
    public readonly IGemmBSource? BSource;
    /// <summary>The first column of op(B) in <see cref="BSource"/> that column 0 of this problem reads.</summary>
    public readonly int BColumn0;

    public GemmProblem(GemmForm form, int m, int k, int n, float* a, int lda, float* b, int ldb, float* c, int ldc,
        float alpha, bool accumulate, GemmIsa isa)
    {
        Form = form; M = m; K = k; N = n; A = a; Lda = lda; B = b; Ldb = ldb; C = c; Ldc = ldc;
        Alpha = alpha; Accumulate = accumulate; Isa = isa;
    }

    /// <summary>C[m, n] (+)= alpha·A·op(B) with op(B): [K, N] packed by <paramref name="source"/> (NT: B is [N, K]).</summary>
    public GemmProblem(GemmForm form, int m, int k, int n, float* a, int lda, IGemmBSource source, float* c, int ldc,
        float alpha, bool accumulate, GemmIsa isa)
        : this(form, m, k, n, a, lda, null, 0, c, ldc, alpha, accumulate, isa)
    {
        BSource = source;
    }

    private GemmProblem(in GemmProblem p, float* a, float* b, float* c, int m, int n, float* packedA, int packedRows, int bColumn0)
        : this(p.Form, m, p.K, n, a, p.Lda, b, p.Ldb, c, p.Ldc, p.Alpha, p.Accumulate, p.Isa)
    {
        PackedA = packedA; PackedRows = packedRows; BSource = p.BSource; BColumn0 = bColumn0;
    }

    /// <summary>This problem with op(A) pre-packed at <paramref name="packedA"/> (see <see cref="PackedA"/>).</summary>
    public GemmProblem WithPackedA(float* packedA, int packedRows) => new(this, A, B, C, M, N, packedA, packedRows, BColumn0);

    /// <summary>The sub-problem computing rows [m0, m1) of C (it packs its own A).</summary>
    public GemmProblem Rows(int m0, int m1)
    {
        float* a = Form == GemmForm.TN ? A + m0 : A + (long)m0 * Lda;
        return new GemmProblem(this, a, B, C + (long)m0 * Ldc, m1 - m0, N, null, 0, BColumn0);
    }

    /// <summary>The sub-problem computing columns [n0, n1) of C.</summary>
    public GemmProblem Columns(int n0, int n1)
    {
        float* b = B == null ? null : Form == GemmForm.NT ? B + (long)n0 * Ldb : B + n0;
        return new GemmProblem(this, A, b, C + n0, M, n1 - n0, PackedA, PackedRows, BColumn0 + n0);
    }
}
