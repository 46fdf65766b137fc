namespace TokenFormer.Model.Growth;

/// <summary>A run of floats [Offset, Offset + Length) in a model's parameter arena.</summary>
public readonly record struct ParameterRange(int Offset, int Length);

/// <summary>
/// The parameters a grown model already had before its newest growth step: the embedding, the final LayerNorm and
/// rows 0 … n_old−1 of every parameter-token tensor (what <c>train --freeze-old</c> keeps fixed).
/// </summary>
public static class OldParameters
{
    /// <summary>
    /// Ranges of the old parameters of <paramref name="model"/>, in arena order. Throws <see cref="GrowthException"/>
    /// when the model has no growth lineage or its token counts are not those its newest stage produced.
    /// </summary>
    public static List<ParameterRange> Ranges(TokenFormerModel model)
    {
        GrowthStage stage = GrowthLineage.Last(model.Config)
            ?? throw new GrowthException("the model has no growth lineage (config.json field 'growth'), so there are no 'old' tokens to freeze; grow it with 'tokenformer grow' first");
        TokenCounts now = TokenCounts.Of(model.Config);
        if (now != stage.NewTokens)
            throw new GrowthException($"the model's token counts ({now}) are not those of its newest growth stage ({stage.NewTokens}); its lineage does not describe it");
        int d = model.Config.HiddenSize;
        var ranges = new List<ParameterRange>();
        foreach (ParameterTensor t in model.Layout.Tensors)
        {
            int oldRows = t.TokenCount(stage.OldTokens);
            int length = oldRows < 0 ? t.Length : oldRows * d;
            if (length == 0) continue;
            // merge with the previous range when adjacent (e.g. the final LayerNorm weight and bias)
            if (ranges.Count > 0 && ranges[^1].Offset + ranges[^1].Length == t.Offset)
                ranges[^1] = ranges[^1] with { Length = ranges[^1].Length + length };
            else ranges.Add(new ParameterRange(t.Offset, length));
        }
        return ranges;
    }
}
