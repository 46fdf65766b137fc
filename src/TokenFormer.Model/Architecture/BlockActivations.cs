namespace TokenFormer.Model.Architecture;

/// <summary>
/// One block's activations for up to a fixed number of rows: what the forward writes and the backward reads.
/// A₁, A₂ = LayerNorm outputs [rows, d] with their rstd [rows]; the three Pattentions' <see cref="PattentionActivations"/>;
/// q, k, v (rotated once attention ran) and the attention output [rows, d]. Training keeps one per layer; decoding
/// reuses one for every layer, its three Pattentions sharing the score arrays.
/// </summary>
public sealed class BlockActivations
{
    /// <summary>a₁ = LN(x) before attention [rows, d].</summary>
    public float[] A1 { get; }
    /// <summary>1/σ of a₁'s rows [rows].</summary>
    public float[] Rstd1 { get; }
    /// <summary>a₂ = LN(x) before the FFN [rows, d].</summary>
    public float[] A2 { get; }
    /// <summary>1/σ of a₂'s rows [rows].</summary>
    public float[] Rstd2 { get; }
    /// <summary>Queries [rows, d].</summary>
    public float[] Q { get; }
    /// <summary>Keys [rows, d].</summary>
    public float[] K { get; }
    /// <summary>Values [rows, d].</summary>
    public float[] V { get; }
    /// <summary>Attention output [rows, d].</summary>
    public float[] Att { get; }
    /// <summary>Q/K/V Pattention group (3 groups).</summary>
    public PattentionActivations Qkv { get; }
    /// <summary>Output projection Pattention.</summary>
    public PattentionActivations Proj { get; }
    /// <summary>FFN Pattention.</summary>
    public PattentionActivations Ffn { get; }

    /// <summary>
    /// Buffers for <paramref name="rows"/> rows of a model with <paramref name="config"/>'s sizes; with
    /// <paramref name="shareScores"/> the three Pattentions share one set of score arrays (inference: nothing is kept
    /// for a backward, so the projection and FFN may overwrite the Q/K/V scores).
    /// </summary>
    public BlockActivations(TokenFormerConfig config, int rows, bool shareScores)
    {
        int d = config.HiddenSize, nq = config.QkvSlotNum, np = config.ProjSlotNum, nf = config.FfnSlotNum;
        A1 = new float[rows * d]; Rstd1 = new float[rows]; A2 = new float[rows * d]; Rstd2 = new float[rows];
        Q = new float[rows * d]; K = new float[rows * d]; V = new float[rows * d]; Att = new float[rows * d];
        if (shareScores)
        {
            int wide = Math.Max(3 * nq, Math.Max(np, nf));
            float[] pre = new float[rows * wide], s = new float[rows * wide], stat = new float[rows * 3];
            Qkv = Proj = Ffn = new PattentionActivations(pre, s, stat);
        }
        else
        {
            Qkv = new PattentionActivations(rows, 3 * nq, 3);
            Proj = new PattentionActivations(rows, np, 1);
            Ffn = new PattentionActivations(rows, nf, 1);
        }
    }
}
