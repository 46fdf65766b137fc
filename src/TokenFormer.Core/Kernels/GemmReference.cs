namespace TokenFormer.Core.Kernels;

/// <summary>
/// Plain triple-loop GEMM with double accumulation: the reference that the optimised kernels are
/// tested against. Same contract as <c>Gemm.Compute</c>: C = alpha·op(A)·op(B) (+ C when accumulating).
/// </summary>
public static class GemmReference
{
    /// <summary>A: [M,K] (NN, NT) or [K,M] (TN); B: [K,N] (NN, TN) or [N,K] (NT); C: [M,N].</summary>
    public static void Compute(GemmForm form, int m, int k, int n,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        float alpha = 1f, bool accumulate = false)
    {
        GemmArguments.Validate(form, m, k, n, a, lda, b, ldb, c, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = form == GemmForm.TN ? a[p * lda + i] : a[i * lda + p];
                    float bv = form == GemmForm.NT ? b[j * ldb + p] : b[p * ldb + j];
                    sum += (double)av * bv;
                }
                float result = (float)(alpha * sum);
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + result : result;
            }
        }
    }
}
