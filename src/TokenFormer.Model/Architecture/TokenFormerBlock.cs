namespace TokenFormer.Model.Architecture;

/// <summary>
/// One pre-norm TokenFormer layer over rows x: [rows, d] of the residual stream (updated in place):
/// <code>
///   a₁ = LN(x)                                   (no affine parameters)
///   [s_q | s_k | s_v] = Θ(a₁·[K_q | K_k | K_v]ᵀ)  one Pattention group, G = 3
///   q, k, v = s_q·V_q, s_k·V_k, s_v·V_v           k, v go to the attention context; q after it
///   att = attention(rotary(q), rotary(k), v)      per head, the context decides which positions are seen
///   x  += Θ(att·K_pᵀ)·V_p                         output projection Pattention
///   a₂ = LN(x)
///   x  += Θ(a₂·K_fᵀ)·V_f                          the FFN is one Pattention
/// </code>
/// The backward mirrors it with the hand-written gradients of each part. Not thread-safe (one per stack).
/// </summary>
public sealed class TokenFormerBlock
{
    private readonly LayerNormRows _norm;

    /// <summary>Layer index (0-based).</summary>
    public int Layer { get; }
    /// <summary>The Q/K/V Pattention group.</summary>
    public Pattention Qkv { get; }
    /// <summary>The attention output projection.</summary>
    public Pattention Projection { get; }
    /// <summary>The FFN.</summary>
    public Pattention Ffn { get; }

    /// <summary>Layer <paramref name="layer"/> of a model with <paramref name="layout"/>, weights read from <paramref name="weights"/>.</summary>
    public TokenFormerBlock(TokenFormerConfig config, ParameterLayout layout, IWeightSource weights, int layer)
    {
        Layer = layer;
        Qkv = new Pattention(config, layout, weights, layer, PattentionSite.Query, PattentionSite.Key, PattentionSite.Value);
        Projection = new Pattention(config, layout, weights, layer, PattentionSite.Projection);
        Ffn = new Pattention(config, layout, weights, layer, PattentionSite.Ffn);
        _norm = new LayerNormRows(config.HiddenSize, (float)config.LayerNormEpsilon);
    }

    /// <summary>
    /// Forward of <paramref name="rows"/> rows of <paramref name="x"/> (updated in place), activations into
    /// <paramref name="a"/>. Returns the rows that came out (fewer when the context dropped rows; their x is then
    /// compacted to the front).
    /// </summary>
    public int Forward(int rows, float[] x, BlockActivations a, IAttentionContext attention)
    {
        _norm.Forward(rows, x, a.A1, a.Rstd1);
        Qkv.Scores(rows, a.A1, a.Qkv);
        Qkv.Output(1, rows, a.Qkv, a.K, accumulate: false);
        Qkv.Output(2, rows, a.Qkv, a.V, accumulate: false);
        rows = attention.AcceptKeysAndValues(Layer, rows, a, x);
        if (rows == 0) return 0;
        Qkv.Output(0, rows, a.Qkv, a.Q, accumulate: false);
        attention.Attend(Layer, rows, a);
        Projection.Forward(rows, a.Att, a.Proj, x, accumulate: true);
        _norm.Forward(rows, x, a.A2, a.Rstd2);
        Ffn.Forward(rows, a.A2, a.Ffn, x, accumulate: true);
        return rows;
    }

    /// <summary>
    /// Backward of the last <see cref="Forward"/> over <paramref name="a"/>: <c>s.Dx</c> holds ∂ℒ/∂x after the block and
    /// becomes ∂ℒ/∂x before it (the residual adds the branches' input gradients); parameter gradients are added into
    /// <paramref name="grad"/>.
    /// </summary>
    public void Backward(int rows, BlockActivations a, SequenceAttentionContext attention, BackwardScratch s, float[] grad)
    {
        // FFN branch: x' = y + Θ(a₂·K_fᵀ)·V_f, a₂ = LN(y)
        Ffn.Backward(rows, a.A2, a.Ffn, s.Dx, s.G, grad, s.DTmp);
        _norm.Backward(rows, a.A2, s.DTmp, a.Rstd2, s.Dx, accumulate: true);
        // attention branch: y = x + Θ(att·K_pᵀ)·V_p
        Projection.Backward(rows, a.Att, a.Proj, s.Dx, s.G, grad, s.DTmp);
        attention.Backward(Layer, a, s.DTmp, s.DQ, s.DK, s.DV);
        Qkv.BackwardOutput(0, rows, a.Qkv, s.DQ, s.G, grad);
        Qkv.BackwardOutput(1, rows, a.Qkv, s.DK, s.G, grad);
        Qkv.BackwardOutput(2, rows, a.Qkv, s.DV, s.G, grad);
        Qkv.BackwardScores(rows, a.A1, a.Qkv, s.G, grad, s.DTmp);
        _norm.Backward(rows, a.A1, s.DTmp, a.Rstd1, s.Dx, accumulate: true);
    }
}
