using System.Globalization;

namespace TokenFormer.Model;

/// <summary>
/// A setting of a library options object (<see cref="Training.TrainingOptions"/>, <see cref="Inference.SamplingOptions"/>,
/// a facade's settings) is out of range or does not fit the model or the data. The setting is named by its property
/// name, never by a command-line flag: a front end that spells settings differently builds its own message from
/// <see cref="Setting"/>, <see cref="Requirement"/> and <see cref="Value"/> (see <see cref="Describe"/>).
/// </summary>
public sealed class InvalidSettingException : ArgumentException
{
    /// <summary>
    /// A setting <paramref name="setting"/> with value <paramref name="value"/> (null: not shown) that breaks
    /// <paramref name="requirement"/>; <paramref name="note"/> (e.g. "0 = off") follows the value in parentheses.
    /// </summary>
    public InvalidSettingException(string setting, string requirement, object? value, string? note = null)
        : base(Compose(setting, requirement, Format(value), note))
    {
        Setting = setting;
        Requirement = requirement;
        Value = Format(value);
        Note = note;
    }

    /// <summary>The property name of the setting, e.g. <c>Sequence</c> or <c>TopP</c>.</summary>
    public string Setting { get; }
    /// <summary>What the setting must satisfy, e.g. "must be positive"; reads after the setting's name.</summary>
    public string Requirement { get; }
    /// <summary>The offending value, formatted with the invariant culture (null when the message does not show it).</summary>
    public string? Value { get; }
    /// <summary>A remark shown after the value, e.g. "0 = off" (null: none).</summary>
    public string? Note { get; }

    /// <summary>The message with the setting spelled <paramref name="name"/> (e.g. a command-line flag) instead of its property name.</summary>
    public string Describe(string name) => Compose(name, Requirement, Value, Note);

    private static string Compose(string name, string requirement, string? value, string? note) => (value, note) switch
    {
        (null, null) => $"{name} {requirement}",
        (null, _) => $"{name} {requirement} ({note})",
        (_, null) => $"{name} {requirement} (got {value})",
        _ => $"{name} {requirement} (got {value}; {note})",
    };

    private static string? Format(object? value) => value switch
    {
        null => null,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => value.ToString(),
    };
}
