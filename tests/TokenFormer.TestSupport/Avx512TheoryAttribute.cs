using System.Runtime.Intrinsics;
using Xunit;

namespace TokenFormer.TestSupport;

/// <summary>
/// A theory for code that runs only where Vector512 is hardware-accelerated (AVX-512): on other CPUs the runner
/// reports it as skipped with the reason, rather than as passed without having checked anything.
/// </summary>
public sealed class Avx512TheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when this CPU (or the runtime's configuration) gives no Vector512.</summary>
    public Avx512TheoryAttribute()
    {
        if (!Vector512.IsHardwareAccelerated)
            Skip = "needs AVX-512: Vector512.IsHardwareAccelerated is false on this machine";
    }
}
