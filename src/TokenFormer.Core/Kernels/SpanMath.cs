using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Single-row reductions and the shifted exponential, for use inside a caller's own per-row loop (for example
/// attention rows of varying length): they run on the calling thread, at the CPU's widest SIMD path, and allocate
/// nothing. Sums are accumulated in float vectors over blocks and the block sums added in double.
/// </summary>
public static unsafe class SpanMath
{
    /// <summary>max over x (−∞ when x is empty).</summary>
    public static float Max(ReadOnlySpan<float> x)
    {
        fixed (float* p = x)
        {
            return SimdPaths.Current switch
            {
                SimdPath.Vector512 => RowKernels.Max<Vector512<float>, Float512>(p, x.Length),
                SimdPath.Vector256 => RowKernels.Max<Vector256<float>, Float256>(p, x.Length),
                _ => RowKernels.Max<float, Float1>(p, x.Length),
            };
        }
    }

    /// <summary>Σ x.</summary>
    public static float Sum(ReadOnlySpan<float> x)
    {
        fixed (float* p = x)
        {
            return SimdPaths.Current switch
            {
                SimdPath.Vector512 => RowKernels.Sum<Vector512<float>, Float512>(p, x.Length),
                SimdPath.Vector256 => RowKernels.Sum<Vector256<float>, Float256>(p, x.Length),
                _ => RowKernels.Sum<float, Float1>(p, x.Length),
            };
        }
    }

    /// <summary>Σ a·b. a, b: [n].</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        KernelArguments.SameLength("Dot", "a", a.Length, "b", b.Length);
        fixed (float* pa = a, pb = b)
        {
            return SimdPaths.Current switch
            {
                SimdPath.Vector512 => RowKernels.Dot<Vector512<float>, Float512>(pa, pb, a.Length),
                SimdPath.Vector256 => RowKernels.Dot<Vector256<float>, Float256>(pa, pb, a.Length),
                _ => RowKernels.Dot<float, Float1>(pa, pb, a.Length),
            };
        }
    }

    /// <summary>
    /// Σ exp(x − shift), the exponentials not stored (a log-softmax denominator after <see cref="Max"/>). Same vector
    /// exp and summation as <see cref="ExpShifted"/>.
    /// </summary>
    public static float SumExpShifted(ReadOnlySpan<float> x, float shift)
    {
        fixed (float* px = x)
        {
            return SimdPaths.Current switch
            {
                SimdPath.Vector512 => RowKernels.SumExp<Vector512<float>, Float512>(px, null, x.Length, shift),
                SimdPath.Vector256 => RowKernels.SumExp<Vector256<float>, Float256>(px, null, x.Length, shift),
                _ => RowKernels.SumExp<float, Float1>(px, null, x.Length, shift),
            };
        }
    }

    /// <summary>
    /// y = exp(x − shift) and returns Σ y (the softmax numerator and denominator after <see cref="Max"/>). x, y: [n];
    /// y may be the same span as x. Uses the library's vector exp (relative error ≤ about 2e-7, NaN propagates).
    /// </summary>
    public static float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> y)
    {
        KernelArguments.SameLength("ExpShifted", "x", x.Length, "y", y.Length);
        KernelArguments.NoPartialOverlap("ExpShifted", x, "x", y, "y");
        fixed (float* px = x, py = y)
        {
            return SimdPaths.Current switch
            {
                SimdPath.Vector512 => RowKernels.SumExp<Vector512<float>, Float512>(px, py, x.Length, shift),
                SimdPath.Vector256 => RowKernels.SumExp<Vector256<float>, Float256>(px, py, x.Length, shift),
                _ => RowKernels.SumExp<float, Float1>(px, py, x.Length, shift),
            };
        }
    }
}
