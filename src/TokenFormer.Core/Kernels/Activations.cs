using System.Runtime.CompilerServices;

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
    public static void Erf(ReadOnlySpan<float> x, Span<float> y) => Erf(x, y, SimdPaths.Best);

    /// <summary>y = GeLU(x) element-wise. x, y: [n]; y may be the same span as x (in place).</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y) => Gelu(x, y, SimdPaths.Best);

    /// <summary>dx = dy · GeLU'(x) element-wise. x, dy, dx: [n]; dx may be the same span as dy or x.</summary>
    public static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) =>
        GeluBackward(x, dy, dx, SimdPaths.Best);

    /// <summary>d = GeLU'(x) element-wise. x, d: [n]; d may be the same span as x.</summary>
    public static void GeluDerivative(ReadOnlySpan<float> x, Span<float> derivative) =>
        GeluDerivative(x, derivative, SimdPaths.Best);

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
