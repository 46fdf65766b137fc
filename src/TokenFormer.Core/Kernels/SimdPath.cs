using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Vector width the row-wise and element-wise kernels run at. Public entry points use <see cref="SimdPaths.Best"/>;
/// tests call the internal overloads with each path to check all of them against the references.
/// </summary>
public enum SimdPath
{
    /// <summary>One float at a time (no SIMD).</summary>
    Scalar,
    /// <summary>Vector256 with FMA.</summary>
    Vector256,
    /// <summary>Vector512 (AVX-512F).</summary>
    Vector512,
}

/// <summary>What the running CPU supports.</summary>
public static class SimdPaths
{
    /// <summary>The widest path this CPU accelerates.</summary>
    public static readonly SimdPath Best =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? SimdPath.Vector512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? SimdPath.Vector256
        : SimdPath.Scalar;

    private static SimdPath _current = Best;

    /// <summary>
    /// The path the public kernel entry points use (default <see cref="Best"/>); benchmarks lower it to compare paths.
    /// </summary>
    public static SimdPath Current
    {
        get => _current;
        set
        {
            if (!IsSupported(value)) throw new ArgumentException($"SIMD path {value} is not supported by this CPU (best: {Best})");
            _current = value;
        }
    }

    /// <summary>True when <paramref name="path"/> can run on this CPU.</summary>
    public static bool IsSupported(SimdPath path) => path <= Best;

    /// <summary>Every path this CPU supports, narrowest first.</summary>
    public static IEnumerable<SimdPath> Supported()
    {
        for (var p = SimdPath.Scalar; p <= Best; p++) yield return p;
    }
}
