namespace TokenFormer.Model;

/// <summary>Seeded N(0, σ²) draws for parameter initialisation (Box–Muller: two normals per pair of uniforms).</summary>
internal static class GaussianFill
{
    /// <summary>Fills <paramref name="s"/> with N(0, <paramref name="std"/>²) draws from <paramref name="rng"/>.</summary>
    public static void Fill(Random rng, Span<float> s, double std)
    {
        for (int i = 0; i < s.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)), a = 2 * Math.PI * u2;
            s[i] = (float)(std * r * Math.Cos(a));
            if (i + 1 < s.Length) s[i + 1] = (float)(std * r * Math.Sin(a));
        }
    }
}
