using TokenFormer.Model.Optimizer;

namespace TokenFormer.Model.Growth;

/// <summary>
/// Grows a TokenFormer by appending parameter tokens to every Pattention (docs/architecture.md, Growth): each
/// <c>key_param_tokens</c> / <c>value_param_tokens</c> tensor [n_old, d] becomes [n_new, d] with the old tokens in rows
/// 0 … n_old−1; the embedding and the final LayerNorm are copied unchanged; hidden size, heads and depth stay.
/// The new rows and τ follow <see cref="GrowthMode"/>; the grown config records the step in its
/// <see cref="GrowthLineage"/>.
/// </summary>
public static class ModelGrower
{
    /// <summary>
    /// Checks <paramref name="target"/> against <paramref name="source"/>: every count at least the source's and at
    /// least one larger. Throws <see cref="GrowthException"/> naming the group.
    /// </summary>
    public static void Validate(TokenFormerConfig source, TokenCounts target)
    {
        TokenCounts old = TokenCounts.Of(source);
        foreach (var (name, from, to) in new[] { ("qkv", old.Qkv, target.Qkv), ("proj", old.Proj, target.Proj), ("ffn", old.Ffn, target.Ffn) })
            if (to < from)
                throw new GrowthException($"the target {name} token count {to} is smaller than the source's {from} ({name}_slot_num); growth only appends tokens", name);
        if (target == old)
            throw new GrowthException($"the target token counts ({target}) equal the source's; nothing to grow");
    }

    /// <summary>Returns the grown model; <paramref name="source"/> is not modified.</summary>
    public static TokenFormerModel Grow(TokenFormerModel source, GrowthOptions options)
    {
        TokenFormerConfig src = source.Config;
        Validate(src, options.NewTokens);
        if (!(options.ValueScale > 0) || !double.IsFinite(options.ValueScale))
            throw new GrowthException($"the new values' scale must be a positive number, got {options.ValueScale} (with zero keys and zero values a new token never learns)", "value-scale");
        TokenFormerConfig cfg = src.Clone();
        cfg.VocabSize = source.Vocab;
        cfg.QkvSlotNum = options.NewTokens.Qkv;
        cfg.ProjSlotNum = options.NewTokens.Proj;
        cfg.FfnSlotNum = options.NewTokens.Ffn;
        PattentionScales oldScale = PattentionScales.Of(src);
        if (options.Mode == GrowthMode.Preserve)
        {
            cfg.PattentionScaleQkv = oldScale.Qkv;
            cfg.PattentionScaleProj = oldScale.Proj;
            cfg.PattentionScaleFfn = oldScale.Ffn;
        }
        else
        {
            cfg.PattentionScaleQkv = cfg.PattentionScaleProj = cfg.PattentionScaleFfn = null;
        }
        var grown = new TokenFormerModel(cfg);
        var rng = new Random(options.Seed);
        foreach (var (t, fresh) in CopyOldRows(source.Layout, source.Parameters, grown.Layout, grown.Parameters))
        {
            if (t.Role == ParameterRole.PattentionKeys && options.Mode == GrowthMode.Preserve) fresh.Span.Clear();
            else GaussianFill.Fill(rng, fresh.Span, t.InitialStd(cfg) * (t.Role == ParameterRole.PattentionValues ? options.ValueScale : 1));
        }
        GrowthLineage.Append(cfg, new GrowthStage
        {
            Source = options.Source,
            Mode = GrowthModes.Name(options.Mode),
            Seed = options.Seed,
            ValueScale = options.ValueScale,
            OldTokens = TokenCounts.Of(src),
            NewTokens = options.NewTokens,
            OldScale = oldScale,
            NewScale = PattentionScales.Of(cfg),
            OldParameters = source.Parameters.LongLength,
            NewParameters = grown.Parameters.LongLength,
        });
        return grown;
    }

    /// <summary>
    /// AdamW state for <paramref name="grown"/> carried over from <paramref name="sourceOptimizer"/> of
    /// <paramref name="source"/>, by the rule <see cref="Grow"/> applies to the parameters: each tensor's old moments
    /// in its first floats (old rows first), the appended rows at zero moments, and the step count carried, so bias
    /// correction continues where the source stopped. Hyper-parameters (β, ε, weight decay) are the caller's.
    /// </summary>
    public static AdamW GrowOptimizer(TokenFormerModel source, AdamW sourceOptimizer, TokenFormerModel grown)
    {
        if (sourceOptimizer.FirstMoment.Length != source.Parameters.Length)
            throw new ArgumentException($"the source optimizer holds {sourceOptimizer.FirstMoment.Length} moments but the source model has {source.Parameters.Length} parameters", nameof(sourceOptimizer));
        var adam = new AdamW(grown.Layout) { Step = sourceOptimizer.Step };
        // the appended rows keep the zeros of a fresh arena
        CopyOldRows(source.Layout, sourceOptimizer.FirstMoment, grown.Layout, adam.FirstMoment);
        CopyOldRows(source.Layout, sourceOptimizer.SecondMoment, grown.Layout, adam.SecondMoment);
        return adam;
    }

    /// <summary>
    /// The growth rule for one arena laid out like the parameters: every tensor of <paramref name="grownLayout"/> gets
    /// its source tensor's floats first (row-major [n, d]: the old rows are the first n_old·d floats). Returns, for each
    /// tensor that grew, the floats of its appended rows, for the caller to fill. Throws <see cref="GrowthException"/>
    /// when the layouts do not describe a model and its growth.
    /// </summary>
    private static List<(ParameterTensor Tensor, Memory<float> Fresh)> CopyOldRows(ParameterLayout sourceLayout, float[] source,
        ParameterLayout grownLayout, float[] grown)
    {
        var fresh = new List<(ParameterTensor, Memory<float>)>();
        foreach (ParameterTensor t in grownLayout.Tensors)
        {
            ParameterTensor s = sourceLayout.Find(t.Name)
                ?? throw new GrowthException($"the source model has no tensor '{t.Name}'; the grown model was not grown from it");
            if (s.Length > t.Length || (s.Length < t.Length && !t.Grows))
                throw new GrowthException($"tensor '{t.Name}' has {s.Length} floats in the source and {t.Length} in the grown model; only parameter-token tensors grow, by appending rows");
            source.AsSpan(s.Offset, s.Length).CopyTo(grown.AsSpan(t.Offset, s.Length));
            if (s.Length < t.Length) fresh.Add((t, grown.AsMemory(t.Offset + s.Length, t.Length - s.Length)));
        }
        return fresh;
    }
}
