using TokenFormer.Model;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// Prints what the config reader assumed for fields a config file left out (<see cref="TokenFormerConfig.Assumptions"/>),
/// one <c>note:</c> line each, so a user sees, e.g., that a config.json without rotary_pct was read as 0.25.
/// Model-loading verbs print to standard error, because their standard output may be data (JSON, tokens, logits).
/// </summary>
internal static class ConfigNotes
{
    /// <summary>Writes one note per assumption of <paramref name="config"/> to <paramref name="writer"/> (standard error when null).</summary>
    public static void Print(TokenFormerConfig config, TextWriter? writer = null)
    {
        foreach (string a in config.Assumptions) (writer ?? Console.Error).WriteLine($"note: {a}");
    }
}
