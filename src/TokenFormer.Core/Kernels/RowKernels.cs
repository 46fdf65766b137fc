using System.Runtime.CompilerServices;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Single-row building blocks of <see cref="SpanMath"/> and <see cref="CrossEntropy"/>, written once over
/// <see cref="IFloatVector{TV}"/>. Each takes a pointer to one row of n floats; tails go through a stack buffer
/// padded with a neutral value, so no lane reads or writes past the row.
/// </summary>
internal static unsafe class RowKernels
{
    /// <summary>
    /// Sums run in float vectors (four accumulators) over blocks of 64 vectors, and the block sums are added in double,
    /// so long rows (vocabulary-sized, or any row on the scalar path) keep about float precision: each accumulator lane
    /// adds at most 16 terms before its partial sum is rounded into double.
    /// </summary>
    private static int BlockOf<TV, TW>() where TV : struct where TW : IFloatVector<TV> => 64 * TW.Count;

    /// <summary>Σ x.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Sum<TV, TW>(float* x, int n) where TV : struct where TW : IFloatVector<TV>
    {
        int block = BlockOf<TV, TW>();
        if (n <= block) return SumBlock<TV, TW>(x, n);
        double s = 0;
        for (int i = 0; i < n; i += block) s += SumBlock<TV, TW>(x + i, Math.Min(block, n - i));
        return (float)s;
    }

    /// <summary>Σ exp(x − shift); when y is not null also writes y = exp(x − shift) (y may equal x).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float SumExp<TV, TW>(float* x, float* y, int n, float shift) where TV : struct where TW : IFloatVector<TV>
    {
        int block = BlockOf<TV, TW>();
        if (n <= block) return SumExpBlock<TV, TW>(x, y, n, shift);
        double s = 0;
        for (int i = 0; i < n; i += block)
            s += SumExpBlock<TV, TW>(x + i, y == null ? null : y + i, Math.Min(block, n - i), shift);
        return (float)s;
    }

    /// <summary>Σ a·b.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Dot<TV, TW>(float* a, float* b, int n) where TV : struct where TW : IFloatVector<TV>
    {
        int block = BlockOf<TV, TW>();
        if (n <= block) return DotBlock<TV, TW>(a, b, n);
        double s = 0;
        for (int i = 0; i < n; i += block) s += DotBlock<TV, TW>(a + i, b + i, Math.Min(block, n - i));
        return (float)s;
    }

    /// <summary>Σ a·b over one block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotBlock<TV, TW>(float* a, float* b, int n) where TV : struct where TW : IFloatVector<TV>
    {
        int w = TW.Count, i = 0;
        TV s0 = TW.Create(0f), s1 = s0, s2 = s0, s3 = s0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            s0 = TW.MultiplyAdd(TW.Load(a + i), TW.Load(b + i), s0);
            s1 = TW.MultiplyAdd(TW.Load(a + i + w), TW.Load(b + i + w), s1);
            s2 = TW.MultiplyAdd(TW.Load(a + i + 2 * w), TW.Load(b + i + 2 * w), s2);
            s3 = TW.MultiplyAdd(TW.Load(a + i + 3 * w), TW.Load(b + i + 3 * w), s3);
        }
        for (; i <= n - w; i += w) s0 = TW.MultiplyAdd(TW.Load(a + i), TW.Load(b + i), s0);
        if (i < n)
        {
            float* bufA = stackalloc float[VectorLoops.MaxLanes];
            float* bufB = stackalloc float[VectorLoops.MaxLanes];
            s1 = TW.MultiplyAdd(VectorLoops.LoadPartial<TV, TW>(a + i, n - i, 0f, bufA), VectorLoops.LoadPartial<TV, TW>(b + i, n - i, 0f, bufB), s1);
        }
        return TW.Sum(TW.Add(TW.Add(s0, s1), TW.Add(s2, s3)));
    }

    /// <summary>max over the row (−∞ for n = 0).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Max<TV, TW>(float* x, int n) where TV : struct where TW : IFloatVector<TV>
    {
        int w = TW.Count, i = 0;
        TV m0 = TW.Create(float.NegativeInfinity), m1 = m0, m2 = m0, m3 = m0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            m0 = TW.MaxFast(m0, TW.Load(x + i));
            m1 = TW.MaxFast(m1, TW.Load(x + i + w));
            m2 = TW.MaxFast(m2, TW.Load(x + i + 2 * w));
            m3 = TW.MaxFast(m3, TW.Load(x + i + 3 * w));
        }
        for (; i <= n - w; i += w) m0 = TW.MaxFast(m0, TW.Load(x + i));
        if (i < n)
        {
            float* buf = stackalloc float[VectorLoops.MaxLanes];
            m1 = TW.Max(m1, VectorLoops.LoadPartial<TV, TW>(x + i, n - i, float.NegativeInfinity, buf));
        }
        return TW.MaxAcross(TW.Max(TW.Max(m0, m1), TW.Max(m2, m3)));
    }

    /// <summary>Σ x over one block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SumBlock<TV, TW>(float* x, int n) where TV : struct where TW : IFloatVector<TV>
    {
        int w = TW.Count, i = 0;
        TV s0 = TW.Create(0f), s1 = s0, s2 = s0, s3 = s0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            s0 = TW.Add(s0, TW.Load(x + i));
            s1 = TW.Add(s1, TW.Load(x + i + w));
            s2 = TW.Add(s2, TW.Load(x + i + 2 * w));
            s3 = TW.Add(s3, TW.Load(x + i + 3 * w));
        }
        for (; i <= n - w; i += w) s0 = TW.Add(s0, TW.Load(x + i));
        if (i < n)
        {
            float* buf = stackalloc float[VectorLoops.MaxLanes];
            s1 = TW.Add(s1, VectorLoops.LoadPartial<TV, TW>(x + i, n - i, 0f, buf));
        }
        return TW.Sum(TW.Add(TW.Add(s0, s1), TW.Add(s2, s3)));
    }

    /// <summary>Σ exp(x − shift) over one block, optionally storing the exponentials.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SumExpBlock<TV, TW>(float* x, float* y, int n, float shift) where TV : struct where TW : IFloatVector<TV>
    {
        int w = TW.Count, i = 0;
        TV vs = TW.Create(shift);
        TV s0 = TW.Create(0f), s1 = s0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            TV e0 = FloatMath.Exp<TV, TW>(TW.Subtract(TW.Load(x + i), vs));
            TV e1 = FloatMath.Exp<TV, TW>(TW.Subtract(TW.Load(x + i + w), vs));
            if (y != null) { TW.Store(e0, y + i); TW.Store(e1, y + i + w); }
            s0 = TW.Add(s0, e0);
            s1 = TW.Add(s1, e1);
        }
        for (; i <= n - w; i += w)
        {
            TV e = FloatMath.Exp<TV, TW>(TW.Subtract(TW.Load(x + i), vs));
            if (y != null) TW.Store(e, y + i);
            s0 = TW.Add(s0, e);
        }
        if (i < n)
        {
            float* buf = stackalloc float[VectorLoops.MaxLanes];
            TV e = FloatMath.Exp<TV, TW>(TW.Subtract(VectorLoops.LoadPartial<TV, TW>(x + i, n - i, float.NegativeInfinity, buf), vs));
            if (y != null) VectorLoops.StorePartial<TV, TW>(e, y + i, n - i, buf);
            s1 = TW.Add(s1, e);
        }
        return TW.Sum(TW.Add(s0, s1));
    }

    /// <summary>y = x·scale (y may equal x).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Scale<TV, TW>(float* x, float* y, int n, float scale) where TV : struct where TW : IFloatVector<TV>
    {
        int w = TW.Count, i = 0;
        TV vs = TW.Create(scale);
        for (; i <= n - 2 * w; i += 2 * w)
        {
            TV v0 = TW.Multiply(TW.Load(x + i), vs);
            TV v1 = TW.Multiply(TW.Load(x + i + w), vs);
            TW.Store(v0, y + i);
            TW.Store(v1, y + i + w);
        }
        for (; i <= n - w; i += w) TW.Store(TW.Multiply(TW.Load(x + i), vs), y + i);
        if (i < n)
        {
            float* buf = stackalloc float[VectorLoops.MaxLanes];
            TV v = TW.Multiply(VectorLoops.LoadPartial<TV, TW>(x + i, n - i, 0f, buf), vs);
            VectorLoops.StorePartial<TV, TW>(v, y + i, n - i, buf);
        }
    }
}
