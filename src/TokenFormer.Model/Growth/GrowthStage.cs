using System.Text.Json.Serialization;

namespace TokenFormer.Model.Growth;

/// <summary>τ of the three Pattention groups.</summary>
public sealed record PattentionScales(
    [property: JsonPropertyName("qkv")] double Qkv,
    [property: JsonPropertyName("proj")] double Proj,
    [property: JsonPropertyName("ffn")] double Ffn)
{
    /// <summary>The τ in force for <paramref name="config"/> (overrides or √n).</summary>
    public static PattentionScales Of(TokenFormerConfig config) => new(config.ScaleQkv, config.ScaleProj, config.ScaleFfn);
}

/// <summary>
/// One growth step in a model's lineage (an element of the <c>growth</c> array in config.json): where the model came
/// from, the token counts before and after, the mode, the seed of the new rows and τ before and after.
/// </summary>
public sealed record GrowthStage
{
    /// <summary>The source model directory or checkpoint, as given.</summary>
    [JsonPropertyName("source")] public required string Source { get; init; }
    /// <summary>"preserve" or "official".</summary>
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    /// <summary>Seed of the new rows' random values.</summary>
    [JsonPropertyName("seed")] public int Seed { get; init; }
    /// <summary>Multiple of the init standard deviation the new value tokens were drawn with (absent = 1).</summary>
    [JsonPropertyName("value_scale")] public double ValueScale { get; init; } = 1;
    /// <summary>Token counts of the source.</summary>
    [JsonPropertyName("old_tokens")] public required TokenCounts OldTokens { get; init; }
    /// <summary>Token counts after growth (the old tokens are rows 0 … old−1 of every parameter-token tensor).</summary>
    [JsonPropertyName("new_tokens")] public required TokenCounts NewTokens { get; init; }
    /// <summary>τ of the source.</summary>
    [JsonPropertyName("old_scale")] public required PattentionScales OldScale { get; init; }
    /// <summary>τ of the grown model.</summary>
    [JsonPropertyName("new_scale")] public required PattentionScales NewScale { get; init; }
    /// <summary>Parameters of the source.</summary>
    [JsonPropertyName("old_parameters")] public long OldParameters { get; init; }
    /// <summary>Parameters of the grown model.</summary>
    [JsonPropertyName("new_parameters")] public long NewParameters { get; init; }
}
