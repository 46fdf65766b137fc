using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class ElementwiseTests
{
    private static IEnumerable<int> Lengths() => KernelTestData.AwkwardSizes.Append(0).Append(100_003);

    [Fact]
    public void AllOps_MatchReference_AtAwkwardLengths()
    {
        var rng = new Random(41);
        foreach (int n in Lengths())
        {
            float[] x = KernelTestData.Uniform(rng, n, -10f, 10f);
            float[] y = KernelTestData.Uniform(rng, n, -10f, 10f);
            var r = new float[n];
            var e = new double[n];

            Elementwise.Add(x, y, r);
            ElementwiseReference.Add(x, y, e);
            KernelTestData.AssertClose($"Add n={n}", r, e, i => 1e-6 * (Math.Abs(x[i]) + Math.Abs(y[i])));

            Elementwise.Multiply(x, y, r);
            ElementwiseReference.Multiply(x, y, e);
            KernelTestData.AssertClose($"Multiply n={n}", r, e, i => 1e-6 * Math.Abs(e[i]));

            float[] acc = (float[])y.Clone();
            Elementwise.AddScaled(x, -0.375f, acc);
            ElementwiseReference.AddScaled(x, -0.375, y, e);
            KernelTestData.AssertClose($"AddScaled n={n}", acc, e, i => 1e-6 * (0.375 * Math.Abs(x[i]) + Math.Abs(y[i])));

            Elementwise.Scale(x, 3.5f, r);
            ElementwiseReference.Scale(x, 3.5, e);
            KernelTestData.AssertClose($"Scale n={n}", r, e, i => 1e-6 * Math.Abs(e[i]));
            float[] inPlace = (float[])x.Clone();
            Elementwise.Scale(inPlace, 3.5f);
            Assert.Equal(r, inPlace);

            Elementwise.Exp(x, r);
            ElementwiseReference.Exp(x, e);
            KernelTestData.AssertClose($"Exp n={n}", r, e, i => 1e-5 * e[i]);
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void Exp_FullRange_RelativeError(SimdPath path)
    {
        // Every 2^-8 over the whole float range of exp, subnormal results included.
        var xs = new List<float>();
        for (float v = -103f; v <= 88.7f; v += 1f / 256) xs.Add(v);
        float[] x = xs.ToArray();
        var y = new float[x.Length];
        var e = new double[x.Length];
        Elementwise.Exp(x, y, path);
        ElementwiseReference.Exp(x, e);
        // Relative 1e-6 for normal results; results below 1.2e-38 are subnormal (absolute resolution 1.4e-45).
        KernelTestData.AssertClose($"Exp {path}", y, e, i => 1e-6 * e[i] + 3e-45);
        float[] special = [float.NaN, float.NegativeInfinity, float.PositiveInfinity, 0f, -200f, 200f, 89f];
        var s = new float[special.Length];
        Elementwise.Exp(special, s, path);
        Assert.True(float.IsNaN(s[0]));
        Assert.Equal([0f, float.PositiveInfinity, 1f, 0f, float.PositiveInfinity, float.PositiveInfinity], s[1..]);
    }

    [Fact]
    public void BadShapes_Throw()
    {
        var ex = Assert.Throws<ArgumentException>(() => Elementwise.Add(new float[3], new float[4], new float[3]));
        Assert.Contains("3", ex.Message);
        Assert.Contains("4", ex.Message);
        Assert.Throws<ArgumentException>(() => Elementwise.AddScaled(new float[3], 1f, new float[2]));
        var buffer = new float[10];
        Assert.Throws<ArgumentException>(() => Elementwise.Exp(buffer.AsSpan(0, 5), buffer.AsSpan(2, 5)));
    }
}
