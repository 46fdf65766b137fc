namespace TokenFormer.Vision;

/// <summary>
/// Training compute of a vision TokenFormer, counted as the language model's (src/TokenFormer.Model/Training/TrainingFlops.cs:
/// forward multiply-adds × 2, a training step = 3 × the forward): per image T·(2·N_ne + 4·L·d·T + 2·d·C·P²) + 2·d·K,
/// where N_ne = L·2d·(3·n_qkv + n_proj + n_ffn) are the block parameters every patch token multiplies, 4·L·d·T the
/// token–token attention (QKᵀ and AV) per token, 2·d·C·P² the patch embedding and 2·d·K the head on the pooled row.
/// LayerNorms, normalisers, softmax, pooling and the optimiser are not counted.
/// </summary>
public static class VisionFlops
{
    /// <summary>Forward FLOPs of one image.</summary>
    public static double ForwardPerImage(VisionConfig c)
    {
        var b = c.Blocks;
        double nne = (double)b.NumLayers * 2 * b.HiddenSize * (3.0 * b.QkvSlotNum + b.ProjSlotNum + b.FfnSlotNum);
        double T = c.Patches, d = b.HiddenSize;
        return T * (2 * nne + 4.0 * b.NumLayers * d * T + 2 * d * c.PatchDim) + 2 * d * c.NumClasses;
    }

    /// <summary>Training FLOPs of one image (3 × forward).</summary>
    public static double TrainingPerImage(VisionConfig c) => 3 * ForwardPerImage(c);
}
