namespace TokenFormer.Model.Architecture;

/// <summary>
/// Gradient buffers of the backward, reused by every layer, for up to <paramref name="rows"/> rows:
/// <see cref="Dx"/> = ∂ℒ/∂x of the residual stream [rows, d]; <see cref="DTmp"/> a branch's input gradient [rows, d];
/// <see cref="DQ"/>, <see cref="DK"/>, <see cref="DV"/> [rows, d]; <see cref="G"/> = ∂ℒ/∂S, then ∂ℒ/∂A, of one
/// Pattention [rows, max(3·n_qkv, n_proj, n_ffn)].
/// </summary>
public sealed class BackwardScratch(TokenFormerConfig config, int rows)
{
    /// <summary>∂ℒ/∂x.</summary>
    public float[] Dx { get; } = new float[rows * config.HiddenSize];
    /// <summary>A branch's input gradient.</summary>
    public float[] DTmp { get; } = new float[rows * config.HiddenSize];
    /// <summary>∂ℒ/∂q.</summary>
    public float[] DQ { get; } = new float[rows * config.HiddenSize];
    /// <summary>∂ℒ/∂k.</summary>
    public float[] DK { get; } = new float[rows * config.HiddenSize];
    /// <summary>∂ℒ/∂v.</summary>
    public float[] DV { get; } = new float[rows * config.HiddenSize];
    /// <summary>Pattention score gradient.</summary>
    public float[] G { get; } = new float[rows * Math.Max(3 * config.QkvSlotNum, Math.Max(config.ProjSlotNum, config.FfnSlotNum))];
}
