using TokenFormer.Core.Kernels;

namespace TokenFormer.Model.Kernels;

/// <summary>
/// Fused per-row Pattention normaliser Θ (docs/architecture.md, Pattention) and its backward (docs/architecture.md, Backward), float32.
/// Forward, for one row of scores <c>a: [n]</c>:
/// <list type="bullet">
/// <item><c>l2_norm_gelu</c>: r = ‖a‖₂, z = a·τ/r (written back into <c>a</c>), s = GeLU(z); stat = r.</item>
/// <item><c>gelu_l2_norm</c>: G = GeLU(a), q = ‖G‖₂, s = G·τ/q; <c>a</c> unchanged; stat = q.</item>
/// <item><c>softmax</c>: s = m·exp(a − max)/Σexp (m = n by default); stat = Σexp.</item>
/// </list>
/// Backward turns g = ∂ℒ/∂s in place into ∂ℒ/∂a, from the saved <c>pre</c> (z or a), s and stat.
/// </summary>
public static class PattentionNormalizer
{
    /// <summary>Forward of one row. <paramref name="pre"/>: scores a [n], overwritten by z for l2_norm_gelu; <paramref name="s"/>: [n].</summary>
    public static float Forward(NormActivation act, float tau, float softmaxMultiplier, Span<float> pre, Span<float> s)
    {
        switch (act)
        {
            case NormActivation.L2NormGelu:
            {
                float r = MathF.Sqrt(SpanMath.Dot(pre, pre));
                Activations.ScaleThenGelu(pre, tau / r, s);
                return r;
            }
            case NormActivation.GeluL2Norm:
            {
                Activations.ScaleThenGelu(pre, 1f, s); // scale 1 leaves the scores unchanged
                float q = MathF.Sqrt(SpanMath.Dot(s, s));
                Elementwise.Scale(s, tau / q);
                return q;
            }
            case NormActivation.Softmax:
            {
                float max = SpanMath.Max(pre);
                float sum = SpanMath.ExpShifted(pre, max, s);
                Elementwise.Scale(s, softmaxMultiplier / sum);
                return sum;
            }
            default: throw new ArgumentOutOfRangeException(nameof(act));
        }
    }

    /// <summary>Backward of one row: <paramref name="g"/> = ∂ℒ/∂s [n] becomes ∂ℒ/∂a.</summary>
    public static void Backward(NormActivation act, float tau, float softmaxMultiplier,
        ReadOnlySpan<float> pre, ReadOnlySpan<float> s, float stat, Span<float> g)
    {
        switch (act)
        {
            case NormActivation.L2NormGelu:
            {
                // g_z = g ⊙ GeLU'(z); g_a = (τ/r)·(g_z − z (z·g_z)/τ²)
                float dot = Activations.GeluBackwardDot(pre, g, pre);
                VectorMath.AxpyScale(g, -dot / (tau * tau), pre, tau / stat);
                break;
            }
            case NormActivation.GeluL2Norm:
            {
                // g_G = (τ/q)·(g − s (s·g)/τ²); g_a = g_G ⊙ GeLU'(a)
                float dot = SpanMath.Dot(s, g);
                VectorMath.AxpyScale(g, -dot / (tau * tau), s, tau / stat);
                Activations.GeluBackwardDot(pre, g, ReadOnlySpan<float>.Empty);
                break;
            }
            case NormActivation.Softmax:
            {
                // g_a = s ⊙ (g − (s·g)/m)
                float dot = SpanMath.Dot(s, g);
                VectorMath.MulAddScalar(g, -dot / softmaxMultiplier, s);
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(act));
        }
    }
}
