namespace TokenFormer.Model.Growth;

/// <summary>How the appended parameter-token rows are initialised and what happens to τ (docs/architecture.md, Growth).</summary>
public enum GrowthMode
{
    /// <summary>
    /// Function-preserving (docs/architecture.md, Growth; the paper's App. B): new key tokens 0, new value tokens drawn with the
    /// value init N(0, (2/(L·√d))²), τ of every Pattention frozen at its old value (pattention_scale_* = old √n). For
    /// <c>l2_norm_gelu</c> and <c>gelu_l2_norm</c> the grown model computes the same function (a new token's score is
    /// GeLU(0) = 0 and the norm is unchanged); for <c>softmax</c> it does not (exp(0) = 1: each new token takes
    /// softmax mass, the old tokens' weights are multiplied by Σ_old/(Σ_old + m) with Σ_old = Σᵢ exp(Aᵢ) over the old tokens, and the new values enter the output).
    /// </summary>
    Preserve,

    /// <summary>
    /// The released GPU code (docs/architecture.md, Growth): new key tokens N(0, 0.02²), new value tokens N(0, (2/(L·√d))²), τ recomputed as
    /// √(new n) (pattention_scale_* cleared). The grown model does not compute the source's function.
    /// </summary>
    Official,
}

/// <summary>Names of <see cref="GrowthMode"/> as used on the command line and in config.json.</summary>
public static class GrowthModes
{
    /// <summary>"preserve" or "official".</summary>
    public static string Name(GrowthMode mode) => mode switch
    {
        GrowthMode.Preserve => "preserve",
        GrowthMode.Official => "official",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>Parses "preserve" / "official" (case-insensitive); throws <see cref="GrowthException"/> otherwise.</summary>
    public static GrowthMode Parse(string text) => text.ToLowerInvariant() switch
    {
        "preserve" => GrowthMode.Preserve,
        "official" => GrowthMode.Official,
        _ => throw new GrowthException($"growth mode '{text}' is not one of preserve, official", "mode"),
    };
}

/// <summary>
/// A growth request that cannot be carried out; the message names the value and what was expected, and
/// <see cref="Field"/> names the setting at fault when one is ("qkv", "proj", "ffn" token counts, or "mode"), so a
/// front end can point at its own option.
/// </summary>
public sealed class GrowthException(string message, string? field = null) : Exception(message)
{
    /// <summary>The setting at fault, or null.</summary>
    public string? Field { get; } = field;
}
