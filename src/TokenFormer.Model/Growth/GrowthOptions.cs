namespace TokenFormer.Model.Growth;

/// <summary>What <see cref="ModelGrower.Grow"/> should build.</summary>
/// <param name="NewTokens">Token counts of the grown model (each at least the source's).</param>
/// <param name="Mode">Initialisation of the new rows and τ (default <see cref="GrowthMode.Preserve"/>).</param>
/// <param name="Seed">Seed of the new rows' random values.</param>
/// <param name="Source">Where the source came from, recorded in the lineage.</param>
/// <param name="ValueScale">
/// Multiple of the initial standard deviation of the new value tokens (1 = the model's own init). Small values keep the
/// new tokens' first contributions small once their keys move off 0 (docs/growth.md); must be positive, since with zero
/// keys and zero values a new token gets no gradient at all.
/// </param>
public sealed record GrowthOptions(TokenCounts NewTokens, GrowthMode Mode = GrowthMode.Preserve, int Seed = 1234, string Source = "(in memory)", double ValueScale = 1);
