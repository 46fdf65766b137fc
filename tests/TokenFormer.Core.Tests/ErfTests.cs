using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class ErfTests
{
    private static IEnumerable<double> Points(double lo, double hi, int count)
    {
        for (int i = 0; i <= count; i++) yield return lo + (hi - lo) * i / count;
    }

    [Fact]
    public void HighPrecisionReference_MatchesKnownValues()
    {
        // Published values (Abramowitz & Stegun table 7.1 and standard tables).
        Assert.Equal(0.8427007929497149, HighPrecisionErf.Erf(1.0), 15);
        Assert.Equal(0.9953222650189527, HighPrecisionErf.Erf(2.0), 15);
        Assert.Equal(1.5374597944280349, HighPrecisionErf.Erfc(5.0) * 1e12, 13);
        Assert.Equal(0.5204998778130465, HighPrecisionErf.Erf(0.5), 15);
    }

    [Fact]
    public void DoubleErf_IsAccurateTo1e14_Relative()
    {
        var xs = Points(-6, 6, 601).Concat([1e-10, 0.1, 2.4999999, 2.5, 2.5000001, 1.9999999, 2.0, 3.7]);
        foreach (double x in xs)
        {
            double expected = HighPrecisionErf.Erf(x);
            double got = Activations.Erf(x);
            Assert.True(Math.Abs(got - expected) <= 1e-14 * Math.Abs(expected) + 1e-300,
                $"erf({x:R}) = {got:R}, expected {expected:R}");
        }
        Assert.Equal(0.0, Activations.Erf(0.0));
        Assert.Equal(1.1283791670955126e-300, Activations.Erf(1e-300), 1e-314);
        Assert.Equal(1.0, Activations.Erf(30.0));
        Assert.Equal(-1.0, Activations.Erf(double.NegativeInfinity));
        Assert.True(double.IsNaN(Activations.Erf(double.NaN)));
    }

    [Fact]
    public void DoubleErfc_KeepsRelativeAccuracyInTheTail()
    {
        foreach (double x in Points(-3, 10, 521))
        {
            double expected = HighPrecisionErf.Erfc(x);
            double got = Activations.Erfc(x);
            Assert.True(Math.Abs(got - expected) <= 1e-13 * Math.Abs(expected),
                $"erfc({x:R}) = {got:R}, expected {expected:R} (rel {Math.Abs(got - expected) / expected:E2})");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void FloatErf_MaxAbsError_AgainstHighPrecision(SimdPath path)
    {
        // A sparse grid against the independent high-precision values...
        double worst = 0;
        foreach (double p in Points(-7, 7, 1401))
        {
            float x = (float)p;
            worst = Math.Max(worst, Math.Abs(ErfSpan(path, x) - HighPrecisionErf.Erf(x)));
        }
        Assert.True(worst <= 2e-7, $"{path}: max |erf error| on the sparse grid = {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void FloatErf_MaxAbsError_DenseGrid(SimdPath path)
    {
        // ...and a dense grid (every 2^-14 in [-8, 8]) against the double erf verified above.
        int n = 16 * 16384 + 1;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -8f + i / 16384f;
        var y = new float[n];
        ErfSpan(path, x, y);
        double worst = 0;
        float worstX = 0;
        for (int i = 0; i < n; i++)
        {
            double e = Math.Abs(y[i] - Activations.Erf((double)x[i]));
            if (e > worst) { worst = e; worstX = x[i]; }
            Assert.Equal(Activations.Erf(x[i]), y[i]);   // the scalar entry point computes the same approximation
        }
        Assert.True(worst <= 2e-7, $"{path}: max |erf error| = {worst:E3} at x = {worstX:R}");
    }

    [Fact]
    public void FloatErf_SpecialValues()
    {
        Assert.Equal(0f, Activations.Erf(0f));
        Assert.Equal(1f, Activations.Erf(50f));
        Assert.Equal(-1f, Activations.Erf(-50f));
        Assert.Equal(1f, Activations.Erf(float.PositiveInfinity));
        Assert.Equal(-1f, Activations.Erf(float.NegativeInfinity));
        Assert.True(float.IsNaN(Activations.Erf(float.NaN)));
        Assert.Equal(1e-20f * 1.1283791670955126f, Activations.Erf(1e-20f), 1e-26f);
    }

    private static double ErfSpan(SimdPath path, float x)
    {
        Span<float> a = stackalloc float[1] { x };
        Span<float> b = stackalloc float[1];
        ErfSpan(path, a, b);
        return b[0];
    }

    private static void ErfSpan(SimdPath path, ReadOnlySpan<float> x, Span<float> y) => Activations.Erf(x, y, path);
}
