using TokenFormer.Core.Kernels;
using TokenFormer.Model.Inference;
using TokenFormer.TestSupport;

namespace TokenFormer.Model.Tests.Inference;

/// <summary>The few-row product used by batched decoding against the plain reference GEMM.</summary>
public class SmallBatchProductTests
{
    // Vector512 only: on other CPUs the runner uses the GEMM instead.
    [Avx512Theory]
    [InlineData(2, 16, 16)]
    [InlineData(3, 37, 53)]
    [InlineData(4, 768, 130)]
    [InlineData(5, 64, 100)]
    [InlineData(8, 129, 257)]
    [InlineData(7, 1, 33)]
    [InlineData(1, 100, 3000)]
    public void MatchesReference_NtAndNn_WithStridesAndAccumulation(int m, int k, int n)
    {
        var rng = new Random(m * 1000 + k + n);
        float[] Rand(int len) => Enumerable.Range(0, len).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int ldx = k + 3, ldy = n + 5, xOff = 7, bOff = 11, yOff = 2;
        float[] x = Rand(xOff + m * ldx), b = Rand(bOff + k * n);
        var product = new SmallBatchProduct(Math.Max(k, n));
        foreach (bool nt in new[] { true, false })
            foreach (bool accumulate in new[] { false, true })
            {
                float[] y = Rand(yOff + m * ldy), expected = (float[])y.Clone();
                GemmReference.Compute(nt ? GemmForm.NT : GemmForm.NN, m, k, n, x.AsSpan(xOff), ldx, b.AsSpan(bOff, k * n), nt ? k : n,
                    expected.AsSpan(yOff), ldy, 1f, accumulate);
                product.Run(nt, m, k, n, x, xOff, ldx, b, bOff, y, yOff, ldy, accumulate);
                for (int i = 0; i < y.Length; i++)
                    Assert.True(Math.Abs(expected[i] - y[i]) <= 1e-4f * (1 + Math.Abs(expected[i])),
                        $"{(nt ? "NT" : "NN")} accumulate={accumulate}: element {i}: {y[i]} vs {expected[i]}");
            }
    }
}
