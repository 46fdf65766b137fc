using System.Runtime.CompilerServices;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Single-precision exp, erf and the normal CDF Φ written once over <see cref="IFloatVector{TV}"/>, so the
/// Vector512, Vector256 and scalar paths compute the same approximation.
/// <para>
/// erf: for |x| ≤ 1, erf(x) = x·P(x²) with P of degree 6; for |x| &gt; 1, erfc(|x|) = exp(−x²)·t·F(t − 0.55) with
/// t = 1/|x| and F of degree 10. Both polynomials were fitted here (weighted least squares refined by Lawson
/// iterations toward minimax, in 60-digit arithmetic) to relative errors 1.0e-9 (P on [0, 1]) and 3.8e-8
/// (F on t ∈ [0.1, 1], i.e. |x| ∈ [1, 10]). exp(−x²) is evaluated as exp(−h)·(1 − l) with x² = h + l split
/// exactly by an FMA, so erfc keeps its relative accuracy at large |x|.
/// </para>
/// <para>
/// Φ for GeLU uses one branch-free form for all x: ½·erfc(u) = ½·exp(−u²)·H(1/(1 + u/2)), u = |x|/√2, with H of
/// degree 10 fitted the same way to relative error 1.6e-8 on u ∈ [0, 14.5]; Φ(x) is that for x &lt; 0 and one minus it
/// otherwise, so GeLU(x) = x·Φ(x) is relatively accurate for x → −∞ and exp(−x²/2) is shared with φ(x) for GeLU'.
/// </para>
/// <para>
/// exp: n = round(x·log₂e) by adding 1.5·2^23, r = x − n·ln 2 (two-part ln 2 with FMA), exp(r) by a degree-6
/// polynomial fitted to relative error 1.9e-9 on [−ln2/2, ln2/2], times 2^n built from the integer bits and applied in
/// two halves so that results down to the subnormal range are right. Inputs are clamped to [−104, 88.73] (NaN passes).
/// </para>
/// </summary>
internal static class FloatMath
{
    // exp(r) on [-ln2/2, ln2/2], degree 6.
    private const float E0 = 1.0000000005542486f, E1 = 1.0000000363227994f, E2 = 0.49999992078550315f,
        E3 = 0.1666642017118575f, E4 = 0.04166822585475042f, E5 = 0.008374815715030685f, E6 = 0.001383683002270501f;
    private const float Log2E = 1.4426950408889634f;
    private const float Ln2Hi = 0.693147182464599609375f;
    private const float Ln2Lo = -1.904654323148236e-09f;
    private const float ExpMin = -104f, ExpMax = 88.73f;

    // erf(x)/x = P(x²) on x ∈ [0, 1].
    private const float P0 = 1.128379165913701f, P1 = -0.3761262713559967f, P2 = 0.11283600171957815f,
        P3 = -0.0268544444075705f, P4 = 0.005189534982496902f, P5 = -0.0008020838098316611f, P6 = 7.889108901017984e-05f;

    // u·exp(u²)·erfc(u) = F(1/u − 0.55) on u ∈ [1, 10].
    private const float F0 = 0.502353430910592f, F1 = -0.17003468545958494f, F2 = -0.02036629491027311f,
        F3 = 0.0983150458532366f, F4 = -0.09688788358860337f, F5 = 0.051039417089981574f, F6 = 0.009284215879216722f,
        F7 = -0.07385519004368313f, F8 = 0.10774888603480921f, F9 = -0.02959081140886129f, F10 = -0.05218157325792958f;
    private const float FShift = 0.55f;

    // erfc(u)·exp(u²) = H(1/(1 + u/2) − 0.5625) on u ∈ [0, 14.5], degree 10, relative error 1.6e-8 (GeLU's Φ).
    private const float H0 = 0.31272477128357795f, H1 = 0.9826459902338792f, H2 = 1.0859424060822869f,
        H3 = 0.6378162038535303f, H4 = -0.01227402579155673f, H5 = -0.2338956189292024f, H6 = -0.0010526695741846816f,
        H7 = 0.11856204805860503f, H8 = -0.022048007807857404f, H9 = -0.054304330336831914f, H10 = 0.016822812783725938f;
    private const float HShift = 0.5625f;
    // Beyond these, erf(x) = ±1 and Φ(x) ∈ {0, 1} in float; clamping keeps x² and its FMA split finite.
    private const float ErfClamp = 10f, PhiClamp = 20f;

    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;

    /// <summary>e^x per lane (relative error about 2e-7 over the normal range).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV>
    {
        x = TW.Clamp(x, TW.Create(ExpMin), TW.Create(ExpMax));
        TV j = TW.MultiplyAdd(x, TW.Create(Log2E), TW.Create(FloatVectorConstants.Magic));
        TV n = TW.Subtract(j, TW.Create(FloatVectorConstants.Magic));
        TV r = TW.MultiplyAdd(n, TW.Create(-Ln2Hi), x);
        r = TW.MultiplyAdd(n, TW.Create(-Ln2Lo), r);
        TV p = TW.MultiplyAdd(TW.Create(E6), r, TW.Create(E5));
        p = TW.MultiplyAdd(p, r, TW.Create(E4));
        p = TW.MultiplyAdd(p, r, TW.Create(E3));
        p = TW.MultiplyAdd(p, r, TW.Create(E2));
        p = TW.MultiplyAdd(p, r, TW.Create(E1));
        p = TW.MultiplyAdd(p, r, TW.Create(E0));
        return TW.ScaleByPow2(p, j);
    }

    /// <summary>erf(x) per lane (absolute error ≤ about 2e-7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Erf<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV>
    {
        TV a = TW.Clamp(TW.Abs(x), TW.Create(0f), TW.Create(ErfClamp));
        TV h = TW.Multiply(a, a);
        TV small = TW.LessThanOrEqual(a, TW.Create(1f));
        TV nearZero = TW.Multiply(x, SmallPoly<TV, TW>(h));
        if (TW.AllSet(small)) return nearZero;
        TV erfc = ErfcLarge<TV, TW>(a, h, TW.MultiplyAdd(a, a, TW.Subtract(TW.Create(0f), h)), TW.Create(1f));
        TV one = TW.Subtract(TW.Create(1f), erfc);
        TV far = TW.Select(TW.LessThan(x, TW.Create(0f)), TW.Subtract(TW.Create(0f), one), one);
        return TW.Select(small, nearZero, far);
    }

    /// <summary>GeLU(x) = x·Φ(x) per lane (exact erf form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gelu<TV, TW>(TV input) where TV : struct where TW : IFloatVector<TV>
    {
        TV x = TW.Clamp(input, TW.Create(-PhiClamp), TW.Create(PhiClamp));
        return TW.Multiply(input, Phi<TV, TW>(x, HalfGaussian<TV, TW>(x)));
    }

    /// <summary>GeLU'(x) = Φ(x) + x·φ(x) per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluDerivative<TV, TW>(TV input) where TV : struct where TW : IFloatVector<TV>
    {
        TV x = TW.Clamp(input, TW.Create(-PhiClamp), TW.Create(PhiClamp));
        TV e = HalfGaussian<TV, TW>(x);
        return TW.MultiplyAdd(TW.Multiply(x, TW.Create(InvSqrt2Pi)), e, Phi<TV, TW>(x, e));
    }

    /// <summary>exp(−x²/2), with x² split exactly into h + l by an FMA: exp(−h/2)·(1 − l/2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV HalfGaussian<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV>
    {
        TV h = TW.Multiply(x, x);
        TV l = TW.MultiplyAdd(x, x, TW.Subtract(TW.Create(0f), h));
        TV e = Exp<TV, TW>(TW.Multiply(h, TW.Create(-0.5f)));
        return TW.MultiplyAdd(TW.Multiply(l, TW.Create(-0.5f)), e, e);
    }

    /// <summary>
    /// Φ(x) for |x| ≤ 20 from e = exp(−x²/2): with u = |x|/√2, ½·erfc(u) = ½·e·H(1/(1 + u/2)), which is Φ(x) for x &lt; 0
    /// and 1 − Φ(x) for x ≥ 0. No cancellation on either side, so Φ stays relatively accurate as x → −∞.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Phi<TV, TW>(TV x, TV e) where TV : struct where TW : IFloatVector<TV>
    {
        TV t = TW.Divide(TW.Create(1f), TW.MultiplyAdd(TW.Abs(x), TW.Create(0.5f * InvSqrt2), TW.Create(1f)));
        TV z = TW.Subtract(t, TW.Create(HShift));
        TV p = TW.MultiplyAdd(TW.Create(H10), z, TW.Create(H9));
        p = TW.MultiplyAdd(p, z, TW.Create(H8));
        p = TW.MultiplyAdd(p, z, TW.Create(H7));
        p = TW.MultiplyAdd(p, z, TW.Create(H6));
        p = TW.MultiplyAdd(p, z, TW.Create(H5));
        p = TW.MultiplyAdd(p, z, TW.Create(H4));
        p = TW.MultiplyAdd(p, z, TW.Create(H3));
        p = TW.MultiplyAdd(p, z, TW.Create(H2));
        p = TW.MultiplyAdd(p, z, TW.Create(H1));
        p = TW.MultiplyAdd(p, z, TW.Create(H0));
        TV half = TW.Multiply(TW.Multiply(e, TW.Create(0.5f)), p);
        return TW.Select(TW.LessThan(x, TW.Create(0f)), half, TW.Subtract(TW.Create(1f), half));
    }

    /// <summary>erfc(a) for a &gt; 1, with a² = h + l; <paramref name="one"/> is a vector of ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ErfcLarge<TV, TW>(TV a, TV h, TV l, TV one) where TV : struct where TW : IFloatVector<TV>
    {
        TV e = Exp<TV, TW>(TW.Subtract(TW.Create(0f), h));
        e = TW.MultiplyAdd(TW.Subtract(TW.Create(0f), l), e, e);
        TV t = TW.Divide(one, a);
        return TW.Multiply(TW.Multiply(e, t), LargePoly<TV, TW>(t));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SmallPoly<TV, TW>(TV s) where TV : struct where TW : IFloatVector<TV>
    {
        TV p = TW.MultiplyAdd(TW.Create(P6), s, TW.Create(P5));
        p = TW.MultiplyAdd(p, s, TW.Create(P4));
        p = TW.MultiplyAdd(p, s, TW.Create(P3));
        p = TW.MultiplyAdd(p, s, TW.Create(P2));
        p = TW.MultiplyAdd(p, s, TW.Create(P1));
        return TW.MultiplyAdd(p, s, TW.Create(P0));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LargePoly<TV, TW>(TV t) where TV : struct where TW : IFloatVector<TV>
    {
        TV z = TW.Subtract(t, TW.Create(FShift));
        TV p = TW.MultiplyAdd(TW.Create(F10), z, TW.Create(F9));
        p = TW.MultiplyAdd(p, z, TW.Create(F8));
        p = TW.MultiplyAdd(p, z, TW.Create(F7));
        p = TW.MultiplyAdd(p, z, TW.Create(F6));
        p = TW.MultiplyAdd(p, z, TW.Create(F5));
        p = TW.MultiplyAdd(p, z, TW.Create(F4));
        p = TW.MultiplyAdd(p, z, TW.Create(F3));
        p = TW.MultiplyAdd(p, z, TW.Create(F2));
        p = TW.MultiplyAdd(p, z, TW.Create(F1));
        return TW.MultiplyAdd(p, z, TW.Create(F0));
    }
}
