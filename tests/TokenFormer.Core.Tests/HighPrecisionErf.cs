using System.Globalization;
using System.Numerics;

namespace TokenFormer.Core.Tests;

/// <summary>
/// erf and erfc to about 90 significant digits, independent of the library: fixed-point BigInteger arithmetic with
/// 10^-110 resolution, π from Machin's formula, √π by integer Newton iteration, and the alternating Maclaurin series
/// erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1)) summed to exhaustion (its cancellation is harmless at this precision).
/// Good for |x| ≤ 10 (erfc(10) ≈ 2e-45).
/// </summary>
internal static class HighPrecisionErf
{
    private const int Digits = 110;
    private static readonly BigInteger Scale = BigInteger.Pow(10, Digits);
    private static readonly BigInteger SqrtPi = IntegerSqrt(Pi() * Scale);   // √π · Scale

    /// <summary>erf(x) rounded to double.</summary>
    public static double Erf(double x) => ToDouble(ErfFixed(x));

    /// <summary>erfc(x) = 1 − erf(x) rounded to double, with full relative precision for x ≤ 10.</summary>
    public static double Erfc(double x) => ToDouble(Scale - ErfFixed(x));

    private static BigInteger ErfFixed(double x)
    {
        if (x == 0) return BigInteger.Zero;
        BigInteger X = ToFixed(x);
        BigInteger x2 = X * X / Scale;
        BigInteger power = X;        // x^(2n+1)/n! · Scale
        BigInteger sum = BigInteger.Zero;
        for (int n = 0; ; n++)
        {
            if (n > 0) power = power * x2 / (Scale * n);
            BigInteger term = power / (2 * n + 1);
            sum += n % 2 == 0 ? term : -term;
            if (power.IsZero && n > x * x) break;
        }
        return 2 * sum * Scale / SqrtPi;
    }

    private static BigInteger ToFixed(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        bool negative = bits < 0;
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        int e = exponent - 1075;   // x = mantissa · 2^e
        BigInteger v = mantissa * Scale;
        v = e >= 0 ? v << e : v >> -e;
        return negative ? -v : v;
    }

    private static double ToDouble(BigInteger fixedValue) =>
        double.Parse(fixedValue.ToString(CultureInfo.InvariantCulture) + "e-" + Digits, CultureInfo.InvariantCulture);

    private static BigInteger Pi()
    {
        // π = 16·atan(1/5) − 4·atan(1/239), each in fixed point with 10 guard digits.
        BigInteger s = Scale * BigInteger.Pow(10, 10);
        BigInteger pi = 16 * AtanInverse(5, s) - 4 * AtanInverse(239, s);
        return pi / BigInteger.Pow(10, 10);
    }

    private static BigInteger AtanInverse(int k, BigInteger s)
    {
        BigInteger power = s / k, sum = BigInteger.Zero, k2 = k * k;
        for (int n = 0; !power.IsZero; n++)
        {
            BigInteger term = power / (2 * n + 1);
            sum += n % 2 == 0 ? term : -term;
            power /= k2;
        }
        return sum;
    }

    private static BigInteger IntegerSqrt(BigInteger n)
    {
        BigInteger x = (BigInteger)Math.Sqrt((double)n);
        for (int i = 0; i < 100; i++)
        {
            BigInteger next = (x + n / x) / 2;
            if (BigInteger.Abs(next - x) <= 1) { x = next; break; }
            x = next;
        }
        while (x * x > n) x--;
        while ((x + 1) * (x + 1) <= n) x++;
        return x;
    }
}
