using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class GeluTests
{
    /// <summary>Every 2^-10 in [-14, 14], plus the awkward lengths' worth of random values.</summary>
    private static float[] Grid()
    {
        var xs = new List<float>();
        for (int i = -14 * 1024; i <= 14 * 1024; i++) xs.Add(i / 1024f);
        xs.AddRange(KernelTestData.Uniform(new Random(7), 1000, -6f, 6f));
        return xs.ToArray();
    }

    [Fact]
    public void DoubleGelu_MatchesHighPrecisionDefinition()
    {
        foreach (double x in new[] { -9.5, -5.0, -3.25, -1.0, -0.3, 0.0, 0.7, 1.0, 2.5, 6.0 })
        {
            double phi = 0.5 * HighPrecisionErf.Erfc(-x / Math.Sqrt(2.0));
            double expected = x * phi;
            Assert.True(Math.Abs(Activations.Gelu(x) - expected) <= 1e-13 * Math.Abs(expected),
                $"GeLU({x}) = {Activations.Gelu(x):R}, expected {expected:R}");
        }
        // PyTorch: F.gelu(torch.tensor(1.0, dtype=float64)) = 0.8413447460685429
        Assert.Equal(0.8413447460685429, Activations.Gelu(1.0), 15);
    }

    [Fact]
    public void DoubleGeluDerivative_MatchesCentralDifferences()
    {
        const double h = 1e-5;
        for (double x = -8; x <= 8; x += 0.0625)
        {
            double fd = (Activations.Gelu(x + h) - Activations.Gelu(x - h)) / (2 * h);
            double analytic = Activations.GeluDerivative(x);
            Assert.True(Math.Abs(fd - analytic) <= 1e-9, $"x = {x}: finite difference {fd:R}, analytic {analytic:R}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void FloatGelu_RelativeError_Within1e5(SimdPath path)
    {
        float[] x = Grid();
        var y = new float[x.Length];
        var expected = new double[x.Length];
        Activations.Gelu(x, y, path);
        ActivationsReference.Gelu(x, expected);
        // Relative to |GeLU(x)| down to x = -14; below x ≈ -13.1 GeLU is subnormal (< 1.2e-38), where float only has
        // absolute resolution 1.4e-45, hence the absolute floor of 1e-42.
        KernelTestData.AssertClose($"GeLU {path}", y, expected, i => 1e-5 * Math.Abs(expected[i]) + 1e-42);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Activations.Gelu(x[i]), y[i]);
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void FloatGeluDerivative_Within1e5_OfItsTerms(SimdPath path)
    {
        float[] x = Grid();
        var d = new float[x.Length];
        var expected = new double[x.Length];
        Activations.GeluDerivative(x, d, path);
        ActivationsReference.GeluDerivative(x, expected);
        // GeLU' = Φ(x) + x·φ(x) crosses zero near x = -0.75, where no float evaluation is relatively accurate; the
        // error is measured against the size of the two terms, which is |GeLU'| away from the crossing.
        KernelTestData.AssertClose($"GeLU' {path}", d, expected,
            i => 1e-5 * (PreciseMath.Phi(x[i]) + Math.Abs(x[i] * PreciseMath.Pdf(x[i]))) + 1e-42);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Activations.GeluDerivative(x[i]), d[i]);
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void GeluBackward_MatchesReference_AtAwkwardLengths_InPlaceToo(SimdPath path)
    {
        var rng = new Random(11);
        foreach (int n in KernelTestData.AwkwardSizes.Append(70_001))
        {
            float[] x = KernelTestData.Uniform(rng, n, -5f, 5f);
            float[] dy = KernelTestData.Uniform(rng, n, -2f, 2f);
            var expected = new double[n];
            ActivationsReference.GeluBackward(x, dy, expected);
            var dx = new float[n];
            Activations.GeluBackward(x, dy, dx, path);
            KernelTestData.AssertClose($"GeluBackward n={n}", dx, expected,
                i => 1e-5 * Math.Abs(dy[i]) * (PreciseMath.Phi(x[i]) + Math.Abs(x[i] * PreciseMath.Pdf(x[i]))));
            float[] inPlace = (float[])dy.Clone();
            Activations.GeluBackward(x, inPlace, inPlace, path);
            Assert.Equal(dx, inPlace);

            var g = new float[n];
            var gRef = new double[n];
            Activations.Gelu(x, g, path);
            ActivationsReference.Gelu(x, gRef);
            KernelTestData.AssertClose($"Gelu n={n}", g, gRef, i => 1e-5 * Math.Abs(gRef[i]) + 1e-42);
            float[] y = (float[])x.Clone();
            Activations.Gelu(y, y, path);
            Assert.Equal(g, y);
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void FusedRowHelpers_MatchReference(SimdPath path)
    {
        var rng = new Random(12);
        foreach (int n in KernelTestData.AwkwardSizes.Append(3000))
        {
            float[] a = KernelTestData.Uniform(rng, n, -3f, 3f);
            float scale = 1.7f;
            float[] z = (float[])a.Clone();
            var s = new float[n];
            Activations.ScaleThenGelu(z, scale, s, path);
            var expected = new double[n];
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(a[i] * scale, z[i]);
                expected[i] = PreciseMath.Gelu(z[i]);
            }
            KernelTestData.AssertClose($"ScaleThenGelu n={n}", s, expected, i => 1e-5 * Math.Abs(expected[i]) + 1e-42);

            float[] g = KernelTestData.Uniform(rng, n, -1f, 1f);
            float[] g0 = (float[])g.Clone();
            float dot = Activations.GeluBackwardDot(z, g, z, path);
            double expectedDot = 0, scaleDot = 0;
            for (int i = 0; i < n; i++)
            {
                double d = PreciseMath.GeluDerivative(z[i]);
                expected[i] = g0[i] * d;
                expectedDot += expected[i] * z[i];
                scaleDot += Math.Abs(expected[i] * z[i]);
            }
            KernelTestData.AssertClose($"GeluBackwardDot n={n}", g, expected,
                i => 1e-5 * Math.Abs(g0[i]) * (PreciseMath.Phi(z[i]) + Math.Abs(z[i] * PreciseMath.Pdf(z[i]))));
            Assert.True(Math.Abs(dot - expectedDot) <= 1e-5 * scaleDot, $"n={n}: dot {dot} expected {expectedDot}");
            float[] g2 = (float[])g0.Clone();
            Assert.Equal(0f, Activations.GeluBackwardDot(z, g2, default, path));
            Assert.Equal(g, g2);
        }
    }

    [Fact]
    public void SpecialValues()
    {
        Assert.Equal(0f, Activations.Gelu(0f));
        Assert.Equal(float.PositiveInfinity, Activations.Gelu(float.PositiveInfinity));
        Assert.Equal(1e6f, Activations.Gelu(1e6f));
        Assert.Equal(0f, Activations.Gelu(-1e6f));
        Assert.True(float.IsNaN(Activations.Gelu(float.NaN)));
        Assert.Equal(0.5f, Activations.GeluDerivative(0f));
        Assert.Equal(1f, Activations.GeluDerivative(50f));
        Assert.Equal(0f, Activations.GeluDerivative(-50f));
    }

    [Fact]
    public void BadShapes_Throw()
    {
        var ex = Assert.Throws<ArgumentException>(() => Activations.Gelu(new float[5], new float[4]));
        Assert.Contains("5", ex.Message);
        Assert.Contains("4", ex.Message);
        Assert.Throws<ArgumentException>(() => Activations.GeluBackward(new float[5], new float[5], new float[6]));
        var buffer = new float[10];
        Assert.Throws<ArgumentException>(() => Activations.Gelu(buffer.AsSpan(0, 8), buffer.AsSpan(1, 8)));
    }
}
