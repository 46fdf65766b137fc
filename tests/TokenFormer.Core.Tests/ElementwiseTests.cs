using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class ElementwiseTests
{
    private static IEnumerable<int> Lengths() => KernelTestData.AwkwardSizes.Append(0).Append(100_003);

    [Fact]
    public void Scale_MatchesReference_AtAwkwardLengths()
    {
        // 100,003 elements take the threaded path on a machine with more than one core.
        var rng = new Random(41);
        foreach (int n in Lengths())
        {
            float[] x = KernelTestData.Uniform(rng, n, -10f, 10f);
            double[] e = x.Select(v => 3.5 * v).ToArray();
            float[] r = (float[])x.Clone();
            Elementwise.Scale(r, 3.5f);
            KernelTestData.AssertClose($"Scale n={n}", r, e, i => 1e-6 * Math.Abs(e[i]));
        }
    }
}
