namespace TokenFormer.Model.Training;

/// <summary>Which learning-rate curve a run follows (see <see cref="LearningRateSchedule.For"/>; docs/growth.md).</summary>
public enum ScheduleKind
{
    /// <summary>Linear warmup to the peak learning rate, then cosine to the floor over the run's steps (the default).</summary>
    Cosine,

    /// <summary>
    /// The source run's curve (<see cref="TrainingOptions.SourceSchedule"/>) continued from the step where it stopped,
    /// as if the source had trained on; the run's own peak, floor and warmup are not used.
    /// </summary>
    Continue,

    /// <summary>
    /// Linear warmup to the source run's final learning rate (the rate of its next update), then cosine to the run's
    /// floor over its steps; the run's own peak is not used.
    /// </summary>
    Rewarm,
}

/// <summary>Names of <see cref="ScheduleKind"/> as used on the command line and in trainer_state.json.</summary>
public static class ScheduleKinds
{
    /// <summary>"cosine", "continue" or "rewarm".</summary>
    public static string Name(ScheduleKind kind) => kind switch
    {
        ScheduleKind.Cosine => "cosine",
        ScheduleKind.Continue => "continue",
        ScheduleKind.Rewarm => "rewarm",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Parses a name (case-insensitive); throws <see cref="InvalidSettingException"/> for the setting <c>Schedule</c> otherwise.</summary>
    public static ScheduleKind Parse(string text) => text.ToLowerInvariant() switch
    {
        "cosine" => ScheduleKind.Cosine,
        "continue" => ScheduleKind.Continue,
        "rewarm" => ScheduleKind.Rewarm,
        _ => throw new InvalidSettingException(nameof(TrainingOptions.Schedule), "must be one of cosine, continue, rewarm", text),
    };
}
