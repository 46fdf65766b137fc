using TokenFormer.Core.Kernels;
using System.Runtime.Intrinsics;

namespace TokenFormer.Model.Kernels;

/// <summary>
/// Fused per-row LayerNorm kernels (biased variance; docs/architecture.md, The block and Final norm and head), float32.
/// Non-parametric: y = (x − mean)/√(var + ε). Affine (final norm): x̂ as above, y = x̂ ⊙ w + b.
/// Backward: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) with dx̂ = dy (non-parametric) or dy ⊙ w.
/// </summary>
public static class LayerNormKernels
{
    /// <summary>Non-parametric forward of one row: <paramref name="y"/> = x̂ [d]; returns rstd = 1/√(var + ε).</summary>
    public static float ForwardNonParam(ReadOnlySpan<float> x, Span<float> y, float eps)
    {
        int d = x.Length;
        float mean = SpanMath.Sum(x) / d;
        // two-pass variance for accuracy
        float var = 0;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(mean);
            var acc = Vector512<float>.Zero;
            for (; i <= d - 16; i += 16)
            {
                var c = Vector512.Create(x.Slice(i, 16)) - vm;
                acc = Vector512.FusedMultiplyAdd(c, c, acc);
            }
            var = Vector512.Sum(acc);
        }
        for (; i < d; i++) { float c = x[i] - mean; var += c * c; }
        var /= d;
        float rstd = 1f / MathF.Sqrt(var + eps);
        i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(mean);
            var vr = Vector512.Create(rstd);
            for (; i <= d - 16; i += 16) ((Vector512.Create(x.Slice(i, 16)) - vm) * vr).CopyTo(y.Slice(i, 16));
        }
        for (; i < d; i++) y[i] = (x[i] - mean) * rstd;
        return rstd;
    }

    /// <summary>Affine forward: <paramref name="xhat"/> = normalised x, <paramref name="y"/> = x̂ ⊙ w + b; returns rstd.</summary>
    public static float ForwardAffine(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b,
        Span<float> xhat, Span<float> y, float eps)
    {
        float rstd = ForwardNonParam(x, xhat, eps);
        int i = 0, d = x.Length;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= d - 16; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.Create(xhat.Slice(i, 16)), Vector512.Create(w.Slice(i, 16)), Vector512.Create(b.Slice(i, 16)))
                    .CopyTo(y.Slice(i, 16));
        for (; i < d; i++) y[i] = xhat[i] * w[i] + b[i];
        return rstd;
    }

    /// <summary>
    /// Non-parametric backward of one row: dx (+)= rstd·(dy − mean(dy) − x̂·mean(dy ⊙ x̂)).
    /// <paramref name="accumulate"/> adds into <paramref name="dx"/> instead of overwriting.
    /// </summary>
    public static void BackwardNonParam(ReadOnlySpan<float> xhat, ReadOnlySpan<float> dy, float rstd, Span<float> dx, bool accumulate)
    {
        int d = xhat.Length;
        float meanDy = SpanMath.Sum(dy) / d;
        float meanDyX = SpanMath.Dot(dy, xhat) / d;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vmd = Vector512.Create(meanDy);
            var vmx = Vector512.Create(meanDyX);
            var vr = Vector512.Create(rstd);
            for (; i <= d - 16; i += 16)
            {
                var v = vr * (Vector512.Create(dy.Slice(i, 16)) - vmd - Vector512.Create(xhat.Slice(i, 16)) * vmx);
                if (accumulate) v += Vector512.Create(dx.Slice(i, 16));
                v.CopyTo(dx.Slice(i, 16));
            }
        }
        for (; i < d; i++)
        {
            float v = rstd * (dy[i] - meanDy - xhat[i] * meanDyX);
            dx[i] = accumulate ? dx[i] + v : v;
        }
    }
}
