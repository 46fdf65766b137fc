namespace TokenFormer.Model.Architecture;

/// <summary>
/// Extra parameter tokens that some rows of a <see cref="Pattention"/> see in addition to the layer's own (adapters,
/// docs/adapters.md). When a Pattention has an extension, the extension normalises the scores: for a row with extra
/// tokens, Θ runs over the row's n base scores and its extra scores together (the L2 norm spans both), so the base
/// products stay shared by every row of the batch and each row adds only its own tokens. Inference only: a Pattention
/// with an extension refuses the backward.
/// </summary>
public interface IPattentionExtension
{
    /// <summary>
    /// Called by <see cref="Pattention.Scores"/> after the base score product act.Pre = x·K_Pᵀ, in place of the
    /// normaliser: fills act.S (and act.Stat) for all <paramref name="rows"/> rows and keeps the extra tokens' normalised
    /// scores for <see cref="AddOutput"/>.
    /// </summary>
    void Normalize(Pattention p, int rows, float[] x, PattentionActivations act);

    /// <summary>
    /// Called by <see cref="Pattention.Output"/> after y (+)= S_g·V_P,g: adds the extra tokens' share S_extra·V_extra of
    /// group <paramref name="group"/> into <paramref name="y"/> [rows, d_out].
    /// </summary>
    void AddOutput(Pattention p, int group, int rows, float[] y);
}
