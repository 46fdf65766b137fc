namespace TokenFormer.Model.Training;

/// <summary>
/// Training compute of a TokenFormer, counted as in the paper (docs/architecture.md, Training: forward multiply-adds × 2, training = 3 ×
/// forward): per token 6·N + 12·L·d·T, where N = the parameters every token multiplies — the non-embedding parameters
/// L·2d·(3·n_qkv + n_proj + n_ffn) plus the tied output head V·d (the input embedding is a lookup, not counted) — and
/// 12·L·d·T the token–token attention (QKᵀ and AV, 4·d·T per layer forward, no discount for the causal mask, as the paper).
/// LayerNorms, normalisers, softmax and the optimiser are not counted.
/// </summary>
public static class TrainingFlops
{
    /// <summary>Non-embedding parameters L·2d·(3·n_qkv + n_proj + n_ffn).</summary>
    public static long NonEmbeddingParameters(TokenFormerConfig c) =>
        (long)c.NumLayers * 2 * c.HiddenSize * (3L * c.QkvSlotNum + c.ProjSlotNum + c.FfnSlotNum);

    /// <summary>Training FLOPs per token at sequence length <paramref name="sequence"/>: 6·(N_ne + V·d) + 12·L·d·T.</summary>
    public static double PerToken(TokenFormerConfig c, int sequence) =>
        6.0 * (NonEmbeddingParameters(c) + (double)c.Vocab * c.HiddenSize) + 12.0 * c.NumLayers * c.HiddenSize * sequence;
}
