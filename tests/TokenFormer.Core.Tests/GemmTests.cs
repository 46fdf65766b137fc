using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class GemmTests
{
    private static readonly int[] AwkwardSizes = [1, 3, 17, 63, 65, 255, 1000];

    public static IEnumerable<object[]> Isas() =>
        Enum.GetValues<GemmIsa>().Where(GemmIsaInfo.IsSupported).Select(i => new object[] { i });

    /// <summary>(m, k, n) triples that put every awkward size in every position at least once.</summary>
    private static IEnumerable<(int M, int K, int N)> Shapes()
    {
        foreach (int s in AwkwardSizes)
        {
            yield return (s, 65, 17);
            yield return (17, s, 63);
            yield return (63, 3, s);
        }
        yield return (1, 1, 1);
        yield return (255, 255, 65);
        yield return (130, 300, 70);
        yield return (7, 513, 33);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void EveryForm_MatchesReference_OnAwkwardShapes(GemmIsa isa)
    {
        var rng = new Random(1234);
        foreach (GemmForm form in Enum.GetValues<GemmForm>())
        foreach ((int m, int k, int n) in Shapes())
        foreach (bool threads in new[] { false, true })
            CheckAgainstReference(rng, isa, form, m, k, n, pad: 0, alpha: 1f, accumulate: false, threads);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void StridedOperands_ScaleAndAccumulate_MatchReference(GemmIsa isa)
    {
        var rng = new Random(99);
        foreach (GemmForm form in Enum.GetValues<GemmForm>())
        foreach ((int m, int k, int n) in new[] { (1, 63, 65), (17, 255, 3), (65, 17, 1000), (600, 130, 40) })
        {
            CheckAgainstReference(rng, isa, form, m, k, n, pad: 5, alpha: -0.75f, accumulate: true, threads: true);
            CheckAgainstReference(rng, isa, form, m, k, n, pad: 3, alpha: 2.5f, accumulate: false, threads: false);
        }
    }

    [Fact]
    public void LargeShapesAcrossBlockBoundaries_MatchReference()
    {
        // K > KC (384) and N > NC (3072) exercise multi-block packing; M > MC (120) multiple row blocks. On the
        // AVX-512 path, M = 30 ends in a 6-row panel (the 6-row kernel, stored directly) and M = 200 in an 8-row one;
        // with threads, the column split takes A pre-packed once for all k blocks.
        var rng = new Random(5);
        CheckAgainstReference(rng, Gemm.Isa, GemmForm.NN, 130, 600, 3100, pad: 0, alpha: 1f, accumulate: false, threads: true);
        CheckAgainstReference(rng, Gemm.Isa, GemmForm.NT, 250, 520, 200, pad: 0, alpha: 1f, accumulate: true, threads: true);
        CheckAgainstReference(rng, Gemm.Isa, GemmForm.TN, 200, 530, 250, pad: 0, alpha: 1f, accumulate: false, threads: true);
        CheckAgainstReference(rng, Gemm.Isa, GemmForm.NT, 1, 3000, 5000, pad: 0, alpha: 1f, accumulate: false, threads: true);
        foreach (GemmForm form in Enum.GetValues<GemmForm>())
        foreach (bool threads in new[] { false, true })
            CheckAgainstReference(rng, Gemm.Isa, form, 30, 800, 160, pad: 2, alpha: 0.5f, accumulate: true, threads);
    }

    [Fact]
    public void OneRowProducts_SplitOverRowsOfB_MatchReference()
    {
        // M = 1 with B: [K, N] and N up to GemvRowSplit.MaxWidth: each thread sums a range of B's rows into a partial
        // that is then added into C (scaled, accumulated); wider N splits columns. Sizes big enough to go parallel.
        var rng = new Random(17);
        foreach (GemmForm form in new[] { GemmForm.NN, GemmForm.TN })
        foreach ((int k, int n) in new[] { (1000, 768), (3072, 33), (65, 4096), (17, 3000), (40, 5000), (4000, 9) })
        {
            CheckAgainstReference(rng, Gemm.Isa, form, 1, k, n, pad: 3, alpha: -0.75f, accumulate: true, threads: true);
            CheckAgainstReference(rng, Gemm.Isa, form, 1, k, n, pad: 0, alpha: 1f, accumulate: false, threads: true);
        }
    }

    [Fact]
    public void ZeroInnerDimension_ClearsOrKeepsOutput()
    {
        float[] c = [1, 2, 3, 4];
        Gemm.NN([], [], c, 2, 0, 2, accumulate: true);
        Assert.Equal([1f, 2, 3, 4], c);
        Gemm.NN([], [], c, 2, 0, 2);
        Assert.Equal([0f, 0, 0, 0], c);
    }

    [Fact]
    public void NegativeDimension_ThrowsNamingShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.NN(new float[4], new float[4], new float[4], -2, 2, 2));
        Assert.Contains("M=-2", e.Message);
    }

    [Fact]
    public void MismatchedSpan_ThrowsNamingShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.NT(new float[6], new float[5], new float[4], 2, 3, 2));
        Assert.Contains("B should be [2, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Gemm.TN(new float[6], new float[6], new float[3], 2, 3, 2));
        Assert.Contains("C should be [2, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            Gemm.Compute(GemmForm.NN, 2, 3, 2, new float[6], 2, new float[6], 2, new float[4], 2));
        Assert.Contains("leading dimension of A is 2 but A is [2, 3]", e.Message);
    }

    [Fact]
    public void OverlappingOutput_Throws()
    {
        float[] buffer = new float[16];
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.NN(buffer.AsSpan(0, 4), buffer.AsSpan(4, 4), buffer.AsSpan(2, 4), 2, 2, 2));
        Assert.Contains("overlaps input A [2, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            Gemm.NT(buffer.AsSpan(0, 4), buffer.AsSpan(8, 4), buffer.AsSpan(10, 4), 2, 2, 2));
        Assert.Contains("overlaps input B [2, 2]", e.Message);
    }

    private static void CheckAgainstReference(Random rng, GemmIsa isa, GemmForm form, int m, int k, int n, int pad,
        float alpha, bool accumulate, bool threads)
    {
        int aRows = form == GemmForm.TN ? k : m, aCols = form == GemmForm.TN ? m : k;
        int bRows = form == GemmForm.NT ? n : k, bCols = form == GemmForm.NT ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        float[] a = RandomArray(rng, aRows * lda), b = RandomArray(rng, bRows * ldb);
        float[] c = RandomArray(rng, m * ldc), expected = (float[])c.Clone();
        Gemm.Compute(form, m, k, n, a, lda, b, ldb, c, ldc, alpha, accumulate, isa, threads);
        GemmReference.Compute(form, m, k, n, a, lda, b, ldb, expected, ldc, alpha, accumulate);
        AssertClose(expected, c, $"{isa} {form} M={m} K={k} N={n} pad={pad} alpha={alpha} acc={accumulate} threads={threads}");
    }

    /// <summary>Relative error max|Δ| / max|expected| ≤ 1e-5 (pads between rows must be untouched too).</summary>
    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        double maxErr = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxErr = Math.Max(maxErr, Math.Abs((double)expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }
        Assert.True(maxErr <= 1e-5 * Math.Max(maxRef, 1e-30), $"{what}: max |Δ| {maxErr:E2} vs max |ref| {maxRef:E2}");
    }

    internal static float[] RandomArray(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
