using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Per-position pieces of attention for one query row (decoding), across all heads at once, so that the cache is read
/// row after row — one linear stream — instead of head by head (a 256-byte piece of every 3 KB row, which the hardware
/// prefetcher follows poorly). A row of the cache holds every head: <c>[H·h]</c>, head j at <c>j·h</c>. One generic
/// body per operation serves every SIMD width (<see cref="IFloatVector{TV}"/>); <see cref="HeadRowsReference"/> is the
/// plain twin.
/// </summary>
public static unsafe class HeadRows
{
    /// <summary>scores[j·stride] = scale·dot(q[j·h …], k[j·h …]) for every head j. q, k: [H·h].</summary>
    public static void Scores(float* q, float* k, int heads, int headDim, float scale, float* scores, long stride) =>
        Scores(q, k, heads, headDim, scale, scores, stride, SimdPaths.Current);

    /// <summary><see cref="Scores(float*, float*, int, int, float, float*, long)"/> on a chosen path (tests).</summary>
    internal static void Scores(float* q, float* k, int heads, int headDim, float scale, float* scores, long stride, SimdPath path)
    {
        switch (path)
        {
            case SimdPath.Vector512: Scores<Vector512<float>, Float512>(q, k, heads, headDim, scale, scores, stride); break;
            case SimdPath.Vector256: Scores<Vector256<float>, Float256>(q, k, heads, headDim, scale, scores, stride); break;
            default: Scores<float, Float1>(q, k, heads, headDim, scale, scores, stride); break;
        }
    }

    /// <summary>y[j·h + i] += w[j·stride]·v[j·h + i] for every head j. v, y: [H·h].</summary>
    public static void AddWeighted(float* w, long stride, float* v, int heads, int headDim, float* y) =>
        AddWeighted(w, stride, v, heads, headDim, y, SimdPaths.Current);

    /// <summary><see cref="AddWeighted(float*, long, float*, int, int, float*)"/> on a chosen path (tests).</summary>
    internal static void AddWeighted(float* w, long stride, float* v, int heads, int headDim, float* y, SimdPath path)
    {
        switch (path)
        {
            case SimdPath.Vector512: AddWeighted<Vector512<float>, Float512>(w, stride, v, heads, headDim, y); break;
            case SimdPath.Vector256: AddWeighted<Vector256<float>, Float256>(w, stride, v, heads, headDim, y); break;
            default: AddWeighted<float, Float1>(w, stride, v, heads, headDim, y); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores<TV, TW>(float* q, float* k, int heads, int headDim, float scale, float* scores, long stride)
        where TV : struct where TW : IFloatVector<TV>
    {
        int n = TW.Count;
        for (int j = 0; j < heads; j++)
        {
            float* a = q + j * headDim, b = k + j * headDim;
            TV s0 = TW.Create(0f), s1 = s0;
            int i = 0;
            for (; i + 2 * n <= headDim; i += 2 * n)
            {
                s0 = TW.MultiplyAdd(TW.Load(a + i), TW.Load(b + i), s0);
                s1 = TW.MultiplyAdd(TW.Load(a + i + n), TW.Load(b + i + n), s1);
            }
            if (i + n <= headDim) { s0 = TW.MultiplyAdd(TW.Load(a + i), TW.Load(b + i), s0); i += n; }
            float s = TW.Sum(TW.Add(s0, s1));
            for (; i < headDim; i++) s += a[i] * b[i];
            scores[j * stride] = scale * s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddWeighted<TV, TW>(float* w, long stride, float* v, int heads, int headDim, float* y)
        where TV : struct where TW : IFloatVector<TV>
    {
        int n = TW.Count;
        for (int j = 0; j < heads; j++)
        {
            float wj = w[j * stride];
            TV wv = TW.Create(wj);
            float* a = v + j * headDim, b = y + j * headDim;
            int i = 0;
            for (; i + n <= headDim; i += n) TW.Store(TW.MultiplyAdd(wv, TW.Load(a + i), TW.Load(b + i)), b + i);
            for (; i < headDim; i++) b[i] += wj * a[i];
        }
    }
}

/// <summary>The plain twin of <see cref="HeadRows"/>: one multiply-add at a time.</summary>
public static unsafe class HeadRowsReference
{
    /// <summary>See <see cref="HeadRows.Scores(float*, float*, int, int, float, float*, long)"/>.</summary>
    public static void Scores(float* q, float* k, int heads, int headDim, float scale, float* scores, long stride)
    {
        for (int j = 0; j < heads; j++)
        {
            float s = 0;
            for (int i = 0; i < headDim; i++) s += q[j * headDim + i] * k[j * headDim + i];
            scores[j * stride] = scale * s;
        }
    }

    /// <summary>See <see cref="HeadRows.AddWeighted(float*, long, float*, int, int, float*)"/>.</summary>
    public static void AddWeighted(float* w, long stride, float* v, int heads, int headDim, float* y)
    {
        for (int j = 0; j < heads; j++)
            for (int i = 0; i < headDim; i++) y[j * headDim + i] += w[j * stride] * v[j * headDim + i];
    }
}
