using System.Text.Json.Serialization;

namespace TokenFormer.Model.Growth;

/// <summary>Parameter-token counts of the three Pattention groups: Q/K/V (each), output projection, FFN.</summary>
public sealed record TokenCounts(
    [property: JsonPropertyName("qkv")] int Qkv,
    [property: JsonPropertyName("proj")] int Proj,
    [property: JsonPropertyName("ffn")] int Ffn)
{
    /// <summary>The counts of <paramref name="config"/>.</summary>
    public static TokenCounts Of(TokenFormerConfig config) => new(config.QkvSlotNum, config.ProjSlotNum, config.FfnSlotNum);

    /// <summary>Each count times <paramref name="factor"/>, rounded to the nearest integer.</summary>
    public TokenCounts Scale(double factor) =>
        new(checked((int)Math.Round(Qkv * factor)), checked((int)Math.Round(Proj * factor)), checked((int)Math.Round(Ffn * factor)));

    /// <inheritdoc/>
    public override string ToString() => $"qkv {Qkv}, proj {Proj}, ffn {Ffn}";
}
