using TokenFormer.Model;

namespace TokenFormer.Cli.Quickstart;

/// <summary>
/// Training compute per token (forward and backward), counted the usual way (Kaplan et al. 2020): 6 FLOPs per
/// parameter that multiplies the token — the Pattention parameters, L·2d·(3·n_qkv + n_proj + n_ffn), plus the tied
/// output projection V·d (the embedding lookup itself is free) — plus attention, 6·L·T·d for a context of T tokens.
/// Norms, activations and the optimiser are left out.
/// </summary>
public static class TrainingFlops
{
    /// <summary>Non-embedding parameters: L·2d·(3·n_qkv + n_proj + n_ffn) (LayerNorm vectors left out).</summary>
    public static long NonEmbeddingParameters(TokenFormerConfig c) =>
        (long)c.NumLayers * 2 * c.HiddenSize * (3L * c.QkvSlotNum + c.ProjSlotNum + c.FfnSlotNum);

    /// <summary>FLOPs per trained token at context length <paramref name="sequence"/>: 6·(N_non-emb + V·d) + 6·L·T·d.</summary>
    public static double PerToken(TokenFormerConfig c, int sequence) =>
        6.0 * (NonEmbeddingParameters(c) + (double)c.Vocab * c.HiddenSize) + 6.0 * c.NumLayers * sequence * c.HiddenSize;

    /// <summary>"1.23 TFLOP"-style text.</summary>
    public static string Format(double flops)
    {
        string[] units = ["FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"];
        int u = 0;
        while (flops >= 1000 && u < units.Length - 1) { flops /= 1000; u++; }
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{flops:0.00} {units[u]}");
    }
}
