using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Model.Kernels;

/// <summary>
/// Fused span updates of the Pattention normaliser and attention backward passes (reductions such as Dot, Sum,
/// Max and ExpShifted come from Core's <c>SpanMath</c>).
/// </summary>
internal static class VectorMath
{
    /// <summary>y ← a·(y + b·x) (general fused update used by the normaliser backward).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AxpyScale(Span<float> y, float b, ReadOnlySpan<float> x, float a)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(a);
            var vb = Vector512.Create(b);
            for (; i <= y.Length - 16; i += 16)
                (va * Vector512.FusedMultiplyAdd(vb, Vector512.Create(x.Slice(i, 16)), Vector512.Create(y.Slice(i, 16)))).CopyTo(y.Slice(i, 16));
        }
        for (; i < y.Length; i++) y[i] = a * (y[i] + b * x[i]);
    }

    /// <summary>y ← x ⊙ (y + b) — the softmax normaliser backward.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MulAddScalar(Span<float> y, float b, ReadOnlySpan<float> x)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb = Vector512.Create(b);
            for (; i <= y.Length - 16; i += 16)
                (Vector512.Create(x.Slice(i, 16)) * (Vector512.Create(y.Slice(i, 16)) + vb)).CopyTo(y.Slice(i, 16));
        }
        for (; i < y.Length; i++) y[i] = x[i] * (y[i] + b);
    }
}
