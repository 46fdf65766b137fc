namespace TokenFormer.Model.Training;

/// <summary>Which learning-rate curve a run follows (see <see cref="LearningRateSchedule.For"/>; docs/growth.md).</summary>
public enum ScheduleKind
{
    /// <summary>Linear warmup to the peak learning rate, then cosine to the floor over the run's steps (the default).</summary>
    Cosine,

    /// <summary>
    /// Warmup-stable-decay: linear warmup to the peak, held there, then cosine to the floor over the run's last
    /// <see cref="TrainingOptions.DecaySteps"/> (default a fifth of the steps); with 0 decay steps the rate stays at the
    /// peak, which is how a model that will be grown is trained (docs/growth.md): continuing it after growth at the same
    /// rate neither restarts nor re-raises the schedule.
    /// </summary>
    Wsd,

    /// <summary>
    /// The source run's curve (<see cref="TrainingOptions.SourceSchedule"/>) continued from the step where it stopped,
    /// as if the source had trained on; the run's own peak and warmup are not used. When the source was still at its
    /// stable rate (<see cref="Wsd"/> without decay), the run decays to its own floor over its last
    /// <see cref="TrainingOptions.DecaySteps"/> (default a fifth of the steps).
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
    /// <summary>"cosine", "wsd", "continue" or "rewarm".</summary>
    public static string Name(ScheduleKind kind) => kind switch
    {
        ScheduleKind.Cosine => "cosine",
        ScheduleKind.Wsd => "wsd",
        ScheduleKind.Continue => "continue",
        ScheduleKind.Rewarm => "rewarm",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Parses a name (case-insensitive); throws <see cref="InvalidSettingException"/> for the setting <c>Schedule</c> otherwise.</summary>
    public static ScheduleKind Parse(string text) => text.ToLowerInvariant() switch
    {
        "cosine" => ScheduleKind.Cosine,
        "wsd" => ScheduleKind.Wsd,
        "continue" => ScheduleKind.Continue,
        "rewarm" => ScheduleKind.Rewarm,
        _ => throw new InvalidSettingException(nameof(TrainingOptions.Schedule), "must be one of cosine, wsd, continue, rewarm", text),
    };
}
