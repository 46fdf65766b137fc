namespace TokenFormer.Model.Tests;

/// <summary>Random data and comparison helpers for the kernel tests.</summary>
internal static class TestData
{
    public static double[] Normal(Random rng, int n, double std = 1)
    {
        var r = new double[n];
        for (int i = 0; i < n; i++)
            r[i] = std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        return r;
    }

    /// <summary>Rounds to float and back, so float kernels and double references see the same inputs.</summary>
    public static double[] AsFloatValues(double[] x) => x.Select(v => (double)(float)v).ToArray();

    public static float[] ToFloat(double[] x) => x.Select(v => (float)v).ToArray();

    public static double RelativeError(IReadOnlyList<double> actual, IReadOnlyList<double> expected)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            num += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            den += expected[i] * expected[i];
        }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-300);
    }

    public static double RelativeError(float[] actual, double[] expected) => RelativeError(actual.Select(v => (double)v).ToArray(), expected);

    /// <summary>Central finite differences of f at x, one coordinate at a time.</summary>
    public static double[] NumericGradient(Func<double[], double> f, double[] x, double h = 1e-5)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + h;
            double up = f(x);
            x[i] = keep - h;
            double down = f(x);
            x[i] = keep;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
