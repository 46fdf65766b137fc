using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Per-position pieces of attention for one query row (decoding), across all heads at once, so that the cache is read
/// row after row — one linear stream — instead of head by head (a 256-byte piece of every 3 KB row, which the hardware
/// prefetcher follows poorly). A row of the cache holds every head: <c>[H·h]</c>, head j at <c>j·h</c>.
/// Vector512 when h is a multiple of 16 on AVX-512, Vector256 for multiples of 8, else scalar;
/// <see cref="HeadRowsReference"/> is the plain twin.
/// </summary>
public static unsafe class HeadRows
{
    /// <summary>scores[j·stride] = scale·dot(q[j·h …], k[j·h …]) for every head j. q, k: [H·h].</summary>
    public static void Scores(float* q, float* k, int heads, int headDim, float scale, float* scores, long stride) =>
        Scores(q, k, heads, headDim, scale, scores, stride, SimdPaths.Current);

    /// <summary><see cref="Scores(float*, float*, int, int, float, float*, long)"/> on a chosen path (tests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Scores(float* q, float* k, int heads, int headDim, float scale, float* scores, long stride, SimdPath path)
    {
        if (headDim % 16 == 0 && path == SimdPath.Vector512)
        {
            for (int j = 0; j < heads; j++)
            {
                float* a = q + j * headDim, b = k + j * headDim;
                Vector512<float> s0 = default, s1 = default;
                int i = 0;
                for (; i + 32 <= headDim; i += 32)
                {
                    s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
                    s1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16), s1);
                }
                if (i < headDim) s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
                scores[j * stride] = scale * Vector512.Sum(s0 + s1);
            }
            return;
        }
        if (headDim % 8 == 0 && path >= SimdPath.Vector256)
        {
            for (int j = 0; j < heads; j++)
            {
                float* a = q + j * headDim, b = k + j * headDim;
                Vector256<float> s0 = default;
                for (int i = 0; i < headDim; i += 8) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
                scores[j * stride] = scale * Vector256.Sum(s0);
            }
            return;
        }
        HeadRowsReference.Scores(q, k, heads, headDim, scale, scores, stride);
    }

    /// <summary>y[j·h + i] += w[j·stride]·v[j·h + i] for every head j. v, y: [H·h].</summary>
    public static void AddWeighted(float* w, long stride, float* v, int heads, int headDim, float* y) =>
        AddWeighted(w, stride, v, heads, headDim, y, SimdPaths.Current);

    /// <summary><see cref="AddWeighted(float*, long, float*, int, int, float*)"/> on a chosen path (tests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddWeighted(float* w, long stride, float* v, int heads, int headDim, float* y, SimdPath path)
    {
        if (headDim % 16 == 0 && path == SimdPath.Vector512)
        {
            for (int j = 0; j < heads; j++)
            {
                var wj = Vector512.Create(w[j * stride]);
                float* a = v + j * headDim, b = y + j * headDim;
                for (int i = 0; i < headDim; i += 16)
                    Vector512.Store(Vector512.FusedMultiplyAdd(wj, Vector512.Load(a + i), Vector512.Load(b + i)), b + i);
            }
            return;
        }
        if (headDim % 8 == 0 && path >= SimdPath.Vector256)
        {
            for (int j = 0; j < heads; j++)
            {
                var wj = Vector256.Create(w[j * stride]);
                float* a = v + j * headDim, b = y + j * headDim;
                for (int i = 0; i < headDim; i += 8)
                    Vector256.Store(Vector256.FusedMultiplyAdd(wj, Vector256.Load(a + i), Vector256.Load(b + i)), b + i);
            }
            return;
        }
        HeadRowsReference.AddWeighted(w, stride, v, heads, headDim, y);
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
