using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Model.Kernels;

/// <summary>Small vectorised span reductions used by the fused model kernels.</summary>
internal static class VectorMath
{
    /// <summary>Σ a_i·b_i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated && a.Length >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= a.Length - 16; i += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(a.Slice(i, 16)), Vector512.Create(b.Slice(i, 16)), acc);
            s = Vector512.Sum(acc);
        }
        for (; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>Σ a_i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Sum(ReadOnlySpan<float> a)
    {
        int i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated && a.Length >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= a.Length - 16; i += 16) acc += Vector512.Create(a.Slice(i, 16));
            s = Vector512.Sum(acc);
        }
        for (; i < a.Length; i++) s += a[i];
        return s;
    }

    /// <summary>x ← x·s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scale(Span<float> x, float s)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var v = Vector512.Create(s);
            for (; i <= x.Length - 16; i += 16) (Vector512.Create(x.Slice(i, 16)) * v).CopyTo(x.Slice(i, 16));
        }
        for (; i < x.Length; i++) x[i] *= s;
    }

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

    /// <summary>max_i x_i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Max(ReadOnlySpan<float> x)
    {
        int i = 0;
        float m = float.NegativeInfinity;
        if (Vector512.IsHardwareAccelerated && x.Length >= 16)
        {
            var acc = Vector512.Create(float.NegativeInfinity);
            for (; i <= x.Length - 16; i += 16) acc = Vector512.Max(acc, Vector512.Create(x.Slice(i, 16)));
            for (int j = 0; j < 16; j++) m = MathF.Max(m, acc[j]);
        }
        for (; i < x.Length; i++) m = MathF.Max(m, x[i]);
        return m;
    }

    /// <summary>y ← exp(x − shift); returns Σ y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> y)
    {
        int i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; i <= x.Length - 16; i += 16)
            {
                var e = Vector512.Exp(Vector512.Create(x.Slice(i, 16)) - vs);
                e.CopyTo(y.Slice(i, 16));
                acc += e;
            }
            s = Vector512.Sum(acc);
        }
        for (; i < x.Length; i++)
        {
            y[i] = MathF.Exp(x[i] - shift);
            s += y[i];
        }
        return s;
    }
}
