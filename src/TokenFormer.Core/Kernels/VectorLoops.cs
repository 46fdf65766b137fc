using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>An element-wise function y = f(x), written once over <see cref="IFloatVector{TV}"/>.</summary>
internal interface IUnaryOp
{
    static abstract TV Invoke<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV>;
}

/// <summary>An element-wise function y = f(a, b), written once over <see cref="IFloatVector{TV}"/>.</summary>
internal interface IBinaryOp
{
    static abstract TV Invoke<TV, TW>(TV a, TV b) where TV : struct where TW : IFloatVector<TV>;
}

/// <summary>
/// Loops that apply an <see cref="IUnaryOp"/> or <see cref="IBinaryOp"/> over spans: full vectors, then the tail
/// through a stack buffer (so in-place calls stay correct), split over threads when long.
/// </summary>
internal static unsafe class VectorLoops
{
    /// <summary>Below this many elements a loop runs on the calling thread.</summary>
    public const int ParallelThreshold = 1 << 16;
    /// <summary>Elements per parallel work item (a multiple of every vector width).</summary>
    public const int Chunk = 1 << 14;

    public static void Unary<TOp>(float* x, float* y, int n, SimdPath path) where TOp : struct, IUnaryOp
    {
        if (n >= ParallelThreshold && Parallelism.ThreadCount > 1)
        {
            var job = UnaryJob<TOp>.ForCurrentThread;
            job.Set(x, y, n, path);
            Parallelism.For((n + Chunk - 1) / Chunk, job);
            return;
        }
        UnarySerial<TOp>(x, y, n, path);
    }

    public static void Binary<TOp>(float* a, float* b, float* y, int n, SimdPath path) where TOp : struct, IBinaryOp
    {
        if (n >= ParallelThreshold && Parallelism.ThreadCount > 1)
        {
            var job = BinaryJob<TOp>.ForCurrentThread;
            job.Set(a, b, y, n, path);
            Parallelism.For((n + Chunk - 1) / Chunk, job);
            return;
        }
        BinarySerial<TOp>(a, b, y, n, path);
    }

    public static void UnarySerial<TOp>(float* x, float* y, int n, SimdPath path) where TOp : struct, IUnaryOp
    {
        switch (path)
        {
            case SimdPath.Vector512: Unary<Vector512<float>, Float512, TOp>(x, y, n); break;
            case SimdPath.Vector256: Unary<Vector256<float>, Float256, TOp>(x, y, n); break;
            default: Unary<float, Float1, TOp>(x, y, n); break;
        }
    }

    public static void BinarySerial<TOp>(float* a, float* b, float* y, int n, SimdPath path) where TOp : struct, IBinaryOp
    {
        switch (path)
        {
            case SimdPath.Vector512: Binary<Vector512<float>, Float512, TOp>(a, b, y, n); break;
            case SimdPath.Vector256: Binary<Vector256<float>, Float256, TOp>(a, b, y, n); break;
            default: Binary<float, Float1, TOp>(a, b, y, n); break;
        }
    }

    private static void Unary<TV, TW, TOp>(float* x, float* y, int n)
        where TV : struct where TW : IFloatVector<TV> where TOp : struct, IUnaryOp
    {
        int w = TW.Count, i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            TV v0 = TOp.Invoke<TV, TW>(TW.Load(x + i));
            TV v1 = TOp.Invoke<TV, TW>(TW.Load(x + i + w));
            TW.Store(v0, y + i);
            TW.Store(v1, y + i + w);
        }
        for (; i <= n - w; i += w) TW.Store(TOp.Invoke<TV, TW>(TW.Load(x + i)), y + i);
        if (i < n)
        {
            float* buf = stackalloc float[MaxLanes];
            TV v = TOp.Invoke<TV, TW>(LoadPartial<TV, TW>(x + i, n - i, 0f, buf));
            StorePartial<TV, TW>(v, y + i, n - i, buf);
        }
    }

    private static void Binary<TV, TW, TOp>(float* a, float* b, float* y, int n)
        where TV : struct where TW : IFloatVector<TV> where TOp : struct, IBinaryOp
    {
        int w = TW.Count, i = 0;
        for (; i <= n - w; i += w) TW.Store(TOp.Invoke<TV, TW>(TW.Load(a + i), TW.Load(b + i)), y + i);
        if (i < n)
        {
            float* bufA = stackalloc float[MaxLanes];
            float* bufB = stackalloc float[MaxLanes];
            TV v = TOp.Invoke<TV, TW>(LoadPartial<TV, TW>(a + i, n - i, 0f, bufA), LoadPartial<TV, TW>(b + i, n - i, 0f, bufB));
            StorePartial<TV, TW>(v, y + i, n - i, bufA);
        }
    }

    /// <summary>Most lanes of any vector type used (Vector512 of float).</summary>
    public const int MaxLanes = 16;

    /// <summary>Loads <paramref name="count"/> (&lt; lanes) floats from p, filling the other lanes with <paramref name="fill"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV LoadPartial<TV, TW>(float* p, int count, float fill, float* buffer) where TV : struct where TW : IFloatVector<TV>
    {
        new Span<float>(buffer, TW.Count).Fill(fill);
        new ReadOnlySpan<float>(p, count).CopyTo(new Span<float>(buffer, count));
        return TW.Load(buffer);
    }

    /// <summary>Stores the first <paramref name="count"/> lanes of v at p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial<TV, TW>(TV v, float* p, int count, float* buffer) where TV : struct where TW : IFloatVector<TV>
    {
        TW.Store(v, buffer);
        new ReadOnlySpan<float>(buffer, count).CopyTo(new Span<float>(p, count));
    }

    private sealed class UnaryJob<TOp> : IParallelWork where TOp : struct, IUnaryOp
    {
        [ThreadStatic] private static UnaryJob<TOp>? _current;
        public static UnaryJob<TOp> ForCurrentThread => _current ??= new UnaryJob<TOp>();

        private float* _x, _y;
        private int _n;
        private SimdPath _path;

        public void Set(float* x, float* y, int n, SimdPath path) { _x = x; _y = y; _n = n; _path = path; }

        public void Execute(int index)
        {
            int start = index * Chunk;
            UnarySerial<TOp>(_x + start, _y + start, Math.Min(Chunk, _n - start), _path);
        }
    }

    private sealed class BinaryJob<TOp> : IParallelWork where TOp : struct, IBinaryOp
    {
        [ThreadStatic] private static BinaryJob<TOp>? _current;
        public static BinaryJob<TOp> ForCurrentThread => _current ??= new BinaryJob<TOp>();

        private float* _a, _b, _y;
        private int _n;
        private SimdPath _path;

        public void Set(float* a, float* b, float* y, int n, SimdPath path) { _a = a; _b = b; _y = y; _n = n; _path = path; }

        public void Execute(int index)
        {
            int start = index * Chunk;
            BinarySerial<TOp>(_a + start, _b + start, _y + start, Math.Min(Chunk, _n - start), _path);
        }
    }
}
