using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

/// <summary>The library's vector exp (used by <see cref="SpanMath.ExpShifted"/> and the cross-entropy) on every SIMD path.</summary>
public unsafe class FloatMathTests
{
    private readonly struct ExpOp : IUnaryOp
    {
        public static TV Invoke<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV> => FloatMath.Exp<TV, TW>(x);
    }

    private static void Exp(float[] x, float[] y, SimdPath path)
    {
        fixed (float* px = x, py = y) VectorLoops.Unary<ExpOp>(px, py, x.Length, path);
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void Exp_FullRange_RelativeError(SimdPath path)
    {
        // Every 2^-8 over the whole float range of exp, subnormal results included.
        var xs = new List<float>();
        for (float v = -103f; v <= 88.7f; v += 1f / 256) xs.Add(v);
        float[] x = xs.ToArray();
        var y = new float[x.Length];
        Exp(x, y, path);
        double[] e = x.Select(v => Math.Exp(v)).ToArray();
        // Relative 1e-6 for normal results; results below 1.2e-38 are subnormal (absolute resolution 1.4e-45).
        KernelTestData.AssertClose($"Exp {path}", y, e, i => 1e-6 * e[i] + 3e-45);
        float[] special = [float.NaN, float.NegativeInfinity, float.PositiveInfinity, 0f, -200f, 200f, 89f];
        var s = new float[special.Length];
        Exp(special, s, path);
        Assert.True(float.IsNaN(s[0]));
        Assert.Equal([0f, float.PositiveInfinity, 1f, 0f, float.PositiveInfinity, float.PositiveInfinity], s[1..]);
    }
}
