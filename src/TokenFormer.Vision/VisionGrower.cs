using TokenFormer.Model.Growth;

namespace TokenFormer.Vision;

/// <summary>
/// Grows a vision TokenFormer by appending parameter tokens to every Pattention of its blocks (docs/vision.md, Growth):
/// the blocks, pooled LayerNorm and head live in an ordinary <see cref="Model.TokenFormerModel"/>, which
/// <see cref="ModelGrower"/> grows unchanged (old tokens first; preserve mode: zero new keys and τ kept at the old √n,
/// so the grown model computes the same function for both L2 normalisers); the patch embedding, position table and
/// head bias are copied. The grown config records the step in its growth lineage.
/// </summary>
public static class VisionGrower
{
    /// <summary>Returns the grown model; <paramref name="source"/> is not modified.</summary>
    public static VisionModel Grow(VisionModel source, GrowthOptions options)
    {
        Model.TokenFormerModel core = ModelGrower.Grow(source.Core, options);
        VisionConfig s = source.Config;
        var config = new VisionConfig
        {
            ImageSize = s.ImageSize, Channels = s.Channels, PatchSize = s.PatchSize, NumClasses = s.NumClasses,
            PixelMean = s.PixelMean, PixelStd = s.PixelStd, ClassNames = s.ClassNames, Blocks = core.Config,
        };
        var grown = new VisionModel(config, core);
        source.Stem.CopyTo(grown.Stem, 0);
        return grown;
    }
}
