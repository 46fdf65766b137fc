using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

/// <summary>Shared inputs and error measures for the kernel tests.</summary>
internal static class KernelTestData
{
    /// <summary>The awkward sizes every kernel is checked at.</summary>
    public static readonly int[] AwkwardSizes = [1, 3, 17, 63, 65, 255, 1000];

    /// <summary>(rows, cols) pairs covering every awkward size as rows and as cols, plus shapes large enough to use threads.</summary>
    public static IEnumerable<(int Rows, int Cols)> RowShapes()
    {
        foreach (int s in AwkwardSizes)
        {
            yield return (s, 17);
            yield return (3, s);
        }
        yield return (1, 1);
        yield return (63, 65);
        yield return (255, 255);
        yield return (65, 1000);     // 65k elements: split over threads
        yield return (1000, 129);    // 129k elements, many rows per chunk
        yield return (2, 50_003);    // vocabulary-sized rows
    }

    public static IEnumerable<object[]> Paths() => SimdPaths.Supported().Select(p => new object[] { p });

    public static float[] Uniform(Random rng, int n, float lo, float hi)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }

    /// <summary>Asserts |actual − expected| ≤ tol(i) for every element, reporting the worst index.</summary>
    public static void AssertClose(string what, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, Func<int, double> tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= tolerance(i)))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (error {err:E3}, tolerance {tolerance(i):E3})");
        }
    }
}
