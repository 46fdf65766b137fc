using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class SpanMathTests
{
    [Fact]
    public void RowHelpers_MatchDoubleSums_AtAwkwardLengths()
    {
        var rng = new Random(61);
        foreach (int n in KernelTestData.AwkwardSizes.Append(0).Append(50_003))
        {
            float[] x = KernelTestData.Uniform(rng, n, -6f, 6f);
            float[] b = KernelTestData.Uniform(rng, n, -1f, 1f);
            double max = n == 0 ? double.NegativeInfinity : x.Max();
            double sum = 0, abs = 0, dot = 0, dotAbs = 0, sumExp = 0;
            for (int i = 0; i < n; i++)
            {
                sum += x[i]; abs += Math.Abs(x[i]);
                dot += (double)x[i] * b[i]; dotAbs += Math.Abs((double)x[i] * b[i]);
                sumExp += Math.Exp(x[i] - max);
            }
            Assert.Equal(max, SpanMath.Max(x));
            Assert.True(Math.Abs(SpanMath.Sum(x) - sum) <= 1e-6 * abs + 1e-30, $"n={n} sum");
            Assert.True(Math.Abs(SpanMath.Dot(x, b) - dot) <= 1e-6 * dotAbs + 1e-30, $"n={n} dot");
            var y = new float[n];
            float s = SpanMath.ExpShifted(x, (float)max, y);
            Assert.True(Math.Abs(s - sumExp) <= 1e-5 * sumExp, $"n={n} Σexp {s} vs {sumExp}");
            Assert.Equal(s, SpanMath.SumExpShifted(x, (float)max));
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(y[i] - Math.Exp(x[i] - max)) <= 1e-6 * Math.Exp(x[i] - max), $"n={n} y[{i}]");
            float[] inPlace = (float[])x.Clone();
            Assert.Equal(s, SpanMath.ExpShifted(inPlace, (float)max, inPlace));
            Assert.Equal(y, inPlace);
        }
        Assert.Throws<ArgumentException>(() => SpanMath.Dot(new float[3], new float[4]));
    }
}
