using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Exact (erf-based) GeLU, as PyTorch's default <c>F.gelu</c>: GeLU(x) = x·Φ(x) = ½x(1 + erf(x/√2)), and its
/// derivative GeLU'(x) = Φ(x) + x·φ(x). Float versions use a vectorised approximation of erf/Φ with absolute
/// error ≤ about 2e-7 that also keeps Φ(x) relatively accurate for x → −∞; double versions are accurate to about
/// 1e-15 (see <see cref="PreciseMath"/>). Span versions run Vector512/Vector256/scalar by CPU and split long spans
/// over threads; they allocate nothing.
/// </summary>
public static unsafe class Activations
{
    /// <summary>erf(x) in single precision (absolute error ≤ about 2e-7).</summary>
    public static float Erf(float x) => FloatMath.Erf<float, Float1>(x);

    /// <summary>erf(x) in double precision (about 1e-15).</summary>
    public static double Erf(double x) => PreciseMath.Erf(x);

    /// <summary>erfc(x) = 1 − erf(x) in double precision, relatively accurate for large x.</summary>
    public static double Erfc(double x) => PreciseMath.Erfc(x);

    /// <summary>GeLU(x) = x·Φ(x) in single precision.</summary>
    public static float Gelu(float x) => FloatMath.Gelu<float, Float1>(x);

    /// <summary>GeLU(x) = x·Φ(x) in double precision.</summary>
    public static double Gelu(double x) => PreciseMath.Gelu(x);

    /// <summary>GeLU'(x) = Φ(x) + x·φ(x) in single precision.</summary>
    public static float GeluDerivative(float x) => FloatMath.GeluDerivative<float, Float1>(x);

    /// <summary>GeLU'(x) = Φ(x) + x·φ(x) in double precision.</summary>
    public static double GeluDerivative(double x) => PreciseMath.GeluDerivative(x);

    /// <summary>y = erf(x) element-wise in single precision. x, y: [n]; y may be the same span as x.</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> y) => Erf(x, y, SimdPaths.Current);

    /// <summary>y = GeLU(x) element-wise. x, y: [n]; y may be the same span as x (in place).</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y) => Gelu(x, y, SimdPaths.Current);

    /// <summary>dx = dy · GeLU'(x) element-wise. x, dy, dx: [n]; dx may be the same span as dy or x.</summary>
    public static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) =>
        GeluBackward(x, dy, dx, SimdPaths.Current);

    /// <summary>d = GeLU'(x) element-wise. x, d: [n]; d may be the same span as x.</summary>
    public static void GeluDerivative(ReadOnlySpan<float> x, Span<float> derivative) =>
        GeluDerivative(x, derivative, SimdPaths.Current);

    /// <summary>
    /// Fused scale-then-GeLU for one row (the <c>l2_norm_gelu</c> normaliser forward): x ← scale·x, then y = GeLU(x).
    /// x, y: [n]; y must not overlap x. Runs on the calling thread (meant for per-row use inside parallel loops).
    /// </summary>
    public static void ScaleThenGelu(Span<float> x, float scale, Span<float> y) => ScaleThenGelu(x, scale, y, SimdPaths.Current);

    /// <summary>
    /// Fused GeLU backward with a dot product, for one row: g ← g ⊙ GeLU'(z), and returns Σ w ⊙ g (the new g) when
    /// <paramref name="w"/> is non-empty, else 0. z, g, w: [n] (w may be empty, and may be the same span as z).
    /// Runs on the calling thread; the dot product is accumulated in float vectors and blocks summed in double.
    /// </summary>
    public static float GeluBackwardDot(ReadOnlySpan<float> z, Span<float> g, ReadOnlySpan<float> w) =>
        GeluBackwardDot(z, g, w, SimdPaths.Current);

    internal static void ScaleThenGelu(Span<float> x, float scale, Span<float> y, SimdPath path)
    {
        KernelArguments.SameLength("ScaleThenGelu", "x", x.Length, "y", y.Length);
        if (x.Overlaps(y)) throw new ArgumentException($"ScaleThenGelu: y [{y.Length}] must not overlap x");
        fixed (float* px = x, py = y)
        {
            switch (path)
            {
                case SimdPath.Vector512: ScaleThenGelu<Vector512<float>, Float512>(px, scale, py, x.Length); break;
                case SimdPath.Vector256: ScaleThenGelu<Vector256<float>, Float256>(px, scale, py, x.Length); break;
                default: ScaleThenGelu<float, Float1>(px, scale, py, x.Length); break;
            }
        }
    }

    internal static float GeluBackwardDot(ReadOnlySpan<float> z, Span<float> g, ReadOnlySpan<float> w, SimdPath path)
    {
        KernelArguments.SameLength("GeluBackwardDot", "z", z.Length, "g", g.Length);
        if (!w.IsEmpty) KernelArguments.SameLength("GeluBackwardDot", "w", w.Length, "g", g.Length);
        KernelArguments.NoPartialOverlap("GeluBackwardDot", z, "z", g, "g");
        if (!w.IsEmpty) KernelArguments.NoPartialOverlap("GeluBackwardDot", w, "w", g, "g");
        fixed (float* pz = z, pg = g, pw = w)
        {
            float* wp = w.IsEmpty ? null : pw;
            return path switch
            {
                SimdPath.Vector512 => GeluBackwardDot<Vector512<float>, Float512>(pz, pg, wp, z.Length),
                SimdPath.Vector256 => GeluBackwardDot<Vector256<float>, Float256>(pz, pg, wp, z.Length),
                _ => GeluBackwardDot<float, Float1>(pz, pg, wp, z.Length),
            };
        }
    }

    private static void ScaleThenGelu<TV, TW>(float* x, float scale, float* y, int n) where TV : struct where TW : IFloatVector<TV>
    {
        int w = TW.Count, i = 0;
        TV s = TW.Create(scale);
        for (; i <= n - w; i += w)
        {
            TV z = TW.Multiply(TW.Load(x + i), s);
            TW.Store(z, x + i);
            TW.Store(FloatMath.Gelu<TV, TW>(z), y + i);
        }
        if (i < n)
        {
            float* buf = stackalloc float[VectorLoops.MaxLanes];
            TV z = TW.Multiply(VectorLoops.LoadPartial<TV, TW>(x + i, n - i, 0f, buf), s);
            VectorLoops.StorePartial<TV, TW>(z, x + i, n - i, buf);
            VectorLoops.StorePartial<TV, TW>(FloatMath.Gelu<TV, TW>(z), y + i, n - i, buf);
        }
    }

    private static float GeluBackwardDot<TV, TW>(float* z, float* g, float* wt, int n) where TV : struct where TW : IFloatVector<TV>
    {
        const int Block = 256;
        int w = TW.Count;
        double total = 0;
        float* bufZ = stackalloc float[VectorLoops.MaxLanes];
        float* bufG = stackalloc float[VectorLoops.MaxLanes];
        float* bufW = stackalloc float[VectorLoops.MaxLanes];
        for (int b = 0; b < n; b += Block)
        {
            int end = Math.Min(n, b + Block), i = b;
            TV acc = TW.Create(0f);
            for (; i <= end - w; i += w)
            {
                TV gn = TW.Multiply(TW.Load(g + i), FloatMath.GeluDerivative<TV, TW>(TW.Load(z + i)));
                TW.Store(gn, g + i);
                if (wt != null) acc = TW.MultiplyAdd(gn, TW.Load(wt + i), acc);
            }
            if (i < end)
            {
                TV gn = TW.Multiply(VectorLoops.LoadPartial<TV, TW>(g + i, end - i, 0f, bufG),
                    FloatMath.GeluDerivative<TV, TW>(VectorLoops.LoadPartial<TV, TW>(z + i, end - i, 0f, bufZ)));
                VectorLoops.StorePartial<TV, TW>(gn, g + i, end - i, bufG);
                if (wt != null) acc = TW.MultiplyAdd(gn, VectorLoops.LoadPartial<TV, TW>(wt + i, end - i, 0f, bufW), acc);
            }
            total += TW.Sum(acc);
        }
        return (float)total;
    }

    internal static void Erf(ReadOnlySpan<float> x, Span<float> y, SimdPath path)
    {
        Check("Erf", x, "x", y, "y");
        fixed (float* px = x, py = y) VectorLoops.Unary<ErfOp>(px, py, x.Length, path);
    }

    internal static void Gelu(ReadOnlySpan<float> x, Span<float> y, SimdPath path)
    {
        Check("Gelu", x, "x", y, "y");
        fixed (float* px = x, py = y) VectorLoops.Unary<GeluOp>(px, py, x.Length, path);
    }

    internal static void GeluDerivative(ReadOnlySpan<float> x, Span<float> d, SimdPath path)
    {
        Check("GeluDerivative", x, "x", d, "derivative");
        fixed (float* px = x, pd = d) VectorLoops.Unary<GeluDerivativeOp>(px, pd, x.Length, path);
    }

    internal static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, SimdPath path)
    {
        Check("GeluBackward", x, "x", dx, "dx");
        Check("GeluBackward", dy, "dy", dx, "dx");
        fixed (float* px = x, pdy = dy, pdx = dx) VectorLoops.Binary<GeluBackwardOp>(px, pdy, pdx, x.Length, path);
    }

    private static void Check(string kernel, ReadOnlySpan<float> x, string xName, ReadOnlySpan<float> y, string yName)
    {
        KernelArguments.SameLength(kernel, xName, x.Length, yName, y.Length);
        KernelArguments.NoPartialOverlap(kernel, x, xName, y, yName);
    }

    private readonly struct ErfOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV> => FloatMath.Erf<TV, TW>(x);
    }

    private readonly struct GeluOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV> => FloatMath.Gelu<TV, TW>(x);
    }

    private readonly struct GeluDerivativeOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV> => FloatMath.GeluDerivative<TV, TW>(x);
    }

    private readonly struct GeluBackwardOp : IBinaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TW>(TV x, TV dy) where TV : struct where TW : IFloatVector<TV> =>
            TW.Multiply(dy, FloatMath.GeluDerivative<TV, TW>(x));
    }
}
