namespace TokenFormer.Core.Kernels;

/// <summary>Scalar fallback for CPUs without AVX2/FMA: i-p-j loops with float accumulation in C order.</summary>
internal static unsafe class GemmScalar
{
    public static void Run(in GemmProblem p)
    {
        int m = p.M, n = p.N, k = p.K;
        for (int i = 0; i < m; i++)
        {
            float* c = p.C + (long)i * p.Ldc;
            if (p.Form == GemmForm.NT)
            {
                float* a = p.A + (long)i * p.Lda;
                for (int j = 0; j < n; j++)
                {
                    float* b = p.B + (long)j * p.Ldb;
                    float sum = 0;
                    for (int q = 0; q < k; q++) sum += a[q] * b[q];
                    c[j] = p.Accumulate ? c[j] + p.Alpha * sum : p.Alpha * sum;
                }
                continue;
            }
            if (!p.Accumulate) new Span<float>(c, n).Clear();
            for (int q = 0; q < k; q++)
            {
                float av = p.Alpha * (p.Form == GemmForm.TN ? p.A[(long)q * p.Lda + i] : p.A[(long)i * p.Lda + q]);
                float* b = p.B + (long)q * p.Ldb;
                for (int j = 0; j < n; j++) c[j] += av * b[j];
            }
        }
    }
}
