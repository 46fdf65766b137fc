using System.Text.Json;

namespace TokenFormer.Model.Growth;

/// <summary>
/// Reads and appends the <c>growth</c> field of config.json: an array of <see cref="GrowthStage"/>, oldest first. The
/// config loader keeps unknown fields (<see cref="TokenFormerConfig.Extra"/>) and writes them back, so the lineage
/// survives training checkpoints; models without the field have an empty lineage.
/// </summary>
public static class GrowthLineage
{
    /// <summary>The config.json field name.</summary>
    public const string Field = "growth";

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    /// <summary>The growth stages recorded in <paramref name="config"/>, oldest first (empty when none).</summary>
    public static IReadOnlyList<GrowthStage> Read(TokenFormerConfig config)
    {
        if (config.Extra == null || !config.Extra.TryGetValue(Field, out JsonElement element)) return [];
        try
        {
            return element.Deserialize<List<GrowthStage>>(Options)
                ?? throw new GrowthException($"config.json field '{Field}' is null (expected an array of growth stages)");
        }
        catch (JsonException e)
        {
            throw new GrowthException($"config.json field '{Field}' is not an array of growth stages: {e.Message}");
        }
    }

    /// <summary>The newest growth stage, or null for a model that was never grown.</summary>
    public static GrowthStage? Last(TokenFormerConfig config)
    {
        IReadOnlyList<GrowthStage> all = Read(config);
        return all.Count == 0 ? null : all[^1];
    }

    /// <summary>Appends <paramref name="stage"/> to the lineage of <paramref name="config"/>.</summary>
    public static void Append(TokenFormerConfig config, GrowthStage stage)
    {
        var all = new List<GrowthStage>(Read(config)) { stage };
        config.Extra ??= [];
        config.Extra[Field] = JsonSerializer.SerializeToElement(all, Options);
    }
}
