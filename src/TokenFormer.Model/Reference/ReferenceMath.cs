namespace TokenFormer.Model.Reference;

/// <summary>Double-precision erf and exact GeLU for the reference kernels (series below 3, continued fraction above).</summary>
public static class ReferenceMath
{
    /// <summary>erf(x) to about 1e-15.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 3)
        {
            // 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1))
            double term = x, sum = x, x2 = x * x;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(a) = exp(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …))))
        double f = ax;
        for (int k = 80; k >= 1; k--) f = ax + k / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / (Math.Sqrt(Math.PI) * f);
        return x > 0 ? 1 - erfc : erfc - 1;
    }

    /// <summary>GeLU(z) = z·Φ(z) = ½z(1 + erf(z/√2)).</summary>
    public static double Gelu(double z) => 0.5 * z * (1 + Erf(z / Math.Sqrt(2)));

    /// <summary>GeLU'(z) = Φ(z) + z·φ(z).</summary>
    public static double GeluDerivative(double z) =>
        0.5 * (1 + Erf(z / Math.Sqrt(2))) + z * Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);
}
