using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Model.Kernels;

/// <summary>
/// Exact (erf-based) GeLU and its derivative for the fused Pattention normaliser, vectorised with Vector512.
/// erf uses the Abramowitz–Stegun 7.1.26 form (|error| ≤ 1.5e-7) so that one exp(−z²/2) serves both
/// GeLU(z) = z·Φ(z) and GeLU'(z) = Φ(z) + z·φ(z).
/// </summary>
internal static class GeluMath
{
    private const float P = 0.3275911f;
    private const float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;

    /// <summary>Φ(z) given e = exp(−z²/2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Phi(Vector512<float> z, Vector512<float> e)
    {
        Vector512<float> ax = Vector512.Abs(z) * Vector512.Create(InvSqrt2);
        Vector512<float> t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(P) * ax);
        Vector512<float> poly = Vector512.FusedMultiplyAdd(Vector512.Create(A5), t, Vector512.Create(A4));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A3));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A2));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A1));
        poly *= t;
        Vector512<float> erfAbs = Vector512<float>.One - poly * e;
        Vector512<float> half = Vector512.Create(0.5f);
        // Φ(z) = ½(1 + sign(z)·erf(|z|/√2))
        Vector512<float> pos = half + half * erfAbs;
        Vector512<float> neg = half - half * erfAbs;
        return Vector512.ConditionalSelect(Vector512.LessThan(z, Vector512<float>.Zero), neg, pos);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float PhiScalar(float z, float e)
    {
        float ax = MathF.Abs(z) * InvSqrt2;
        float t = 1f / (1f + P * ax);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        float erfAbs = 1f - poly * e;
        return z < 0 ? 0.5f - 0.5f * erfAbs : 0.5f + 0.5f * erfAbs;
    }

    /// <summary>GeLU(z) for one value.</summary>
    public static float Gelu(float z) => z * PhiScalar(z, MathF.Exp(-0.5f * z * z));

    /// <summary>GeLU'(z) for one value.</summary>
    public static float GeluDerivative(float z)
    {
        float e = MathF.Exp(-0.5f * z * z);
        return PhiScalar(z, e) + z * e * InvSqrt2Pi;
    }

    /// <summary>y = GeLU(x); spans of equal length (may alias).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= x.Length - 16; i += 16)
            {
                var z = Vector512.Create(x.Slice(i, 16));
                var e = Vector512.Exp(Vector512.Create(-0.5f) * z * z);
                (z * Phi(z, e)).CopyTo(y.Slice(i, 16));
            }
        }
        for (; i < x.Length; i++) y[i] = Gelu(x[i]);
    }

    /// <summary>y = GeLU(scale·x) and x ← scale·x, in one pass (the l2_norm_gelu forward).</summary>
    public static void ScaleThenForward(Span<float> x, float scale, Span<float> y)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(scale);
            for (; i <= x.Length - 16; i += 16)
            {
                var z = Vector512.Create(x.Slice(i, 16)) * s;
                z.CopyTo(x.Slice(i, 16));
                var e = Vector512.Exp(Vector512.Create(-0.5f) * z * z);
                (z * Phi(z, e)).CopyTo(y.Slice(i, 16));
            }
        }
        for (; i < x.Length; i++)
        {
            x[i] *= scale;
            y[i] = Gelu(x[i]);
        }
    }

    /// <summary>g ← g ⊙ GeLU'(z); returns Σ w ⊙ g_new when <paramref name="w"/> is non-empty (else 0).</summary>
    public static float BackwardInPlace(ReadOnlySpan<float> z, Span<float> g, ReadOnlySpan<float> w)
    {
        int i = 0;
        bool dot = !w.IsEmpty;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= z.Length - 16; i += 16)
            {
                var zz = Vector512.Create(z.Slice(i, 16));
                var e = Vector512.Exp(Vector512.Create(-0.5f) * zz * zz);
                var d = Phi(zz, e) + zz * e * Vector512.Create(InvSqrt2Pi);
                var gn = Vector512.Create(g.Slice(i, 16)) * d;
                gn.CopyTo(g.Slice(i, 16));
                if (dot) acc = Vector512.FusedMultiplyAdd(gn, Vector512.Create(w.Slice(i, 16)), acc);
            }
            sum = Vector512.Sum(acc);
        }
        for (; i < z.Length; i++)
        {
            g[i] *= GeluDerivative(z[i]);
            if (dot) sum += g[i] * w[i];
        }
        return sum;
    }
}
