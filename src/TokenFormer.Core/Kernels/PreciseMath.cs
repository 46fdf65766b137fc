namespace TokenFormer.Core.Kernels;

/// <summary>
/// Double-precision erf, erfc and the normal CDF Φ, accurate to about 1e-15 relative (erfc keeps its relative
/// accuracy deep into the tail). Used by the reference kernels and by finite-difference checks.
/// <para>
/// erf(x) for |x| &lt; 2.5 uses the all-positive series erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)),
/// which has no cancellation; erfc(x) for x ≥ 2 uses the continued fraction
/// erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) evaluated by the modified Lentz method.
/// e^(−x²) is computed from the exact FMA split x² = h + l as e^(−h)·(1 − l).
/// </para>
/// </summary>
internal static class PreciseMath
{
    private const double TwoOverSqrtPi = 1.1283791670955125738961589;
    private const double InvSqrtPi = 0.56418958354775628694807945;
    private const double InvSqrt2 = 0.70710678118654752440084436;
    private const double InvSqrt2Pi = 0.39894228040143267793994606;
    private const double SeriesLimit = 2.5;
    private const double FractionStart = 2.0;

    /// <summary>erf(x).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double a = Math.Abs(x);
        double r = a < SeriesLimit ? ErfSeries(a) : 1.0 - ErfcFraction(a);
        return x < 0 ? -r : r;
    }

    /// <summary>erfc(x) = 1 − erf(x), relative accuracy kept for large positive x.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x < 0) return 1.0 + Erf(-x);
        return x < FractionStart ? 1.0 - ErfSeries(x) : ErfcFraction(x);
    }

    /// <summary>Φ(x), the standard normal CDF, = ½·erfc(−x/√2).</summary>
    public static double Phi(double x) => 0.5 * Erfc(-x * InvSqrt2);

    /// <summary>φ(x), the standard normal density.</summary>
    public static double Pdf(double x) => InvSqrt2Pi * ExpMinusSquare(x * InvSqrt2);

    /// <summary>GeLU(x) = x·Φ(x).</summary>
    public static double Gelu(double x)
    {
        if (double.IsInfinity(x)) return x > 0 ? x : double.NaN;
        return x * Phi(x);
    }

    /// <summary>GeLU'(x) = Φ(x) + x·φ(x).</summary>
    public static double GeluDerivative(double x)
    {
        if (double.IsInfinity(x)) return x > 0 ? 1.0 : 0.0;
        return Phi(x) + x * Pdf(x);
    }

    /// <summary>e^(−a²) with the square split exactly into h + l.</summary>
    private static double ExpMinusSquare(double a)
    {
        double h = a * a;
        if (double.IsInfinity(h)) return 0.0;
        double l = Math.FusedMultiplyAdd(a, a, -h);
        double e = Math.Exp(-h);
        return e - l * e;
    }

    /// <summary>erf(a) for 0 ≤ a &lt; 2.5 by the positive series.</summary>
    private static double ErfSeries(double a)
    {
        double a2 = 2.0 * a * a;
        double term = a, sum = a;
        for (int n = 1; n < 200; n++)
        {
            term *= a2 / (2 * n + 1);
            sum += term;
            if (term <= sum * 1e-17) break;
        }
        return TwoOverSqrtPi * ExpMinusSquare(a) * sum;
    }

    /// <summary>erfc(a) for a ≥ 2 by the continued fraction (modified Lentz).</summary>
    private static double ErfcFraction(double a)
    {
        if (a > 27.3) return 0.0;   // erfc underflows double
        const double Tiny = 1e-300;
        double f = a, c = a, d = 0.0;
        for (int k = 1; k < 5000; k++)
        {
            double ak = 0.5 * k;
            d = a + ak * d;
            if (d == 0) d = Tiny;
            c = a + ak / c;
            if (c == 0) c = Tiny;
            d = 1.0 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1.0) < 1e-16) break;
        }
        return InvSqrtPi * ExpMinusSquare(a) / f;
    }
}
