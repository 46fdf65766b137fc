namespace TokenFormer.Model.Training;

/// <summary>
/// Linear warmup then cosine decay to a floor (docs/architecture.md, Training), as a function of
/// t = <see cref="Offset"/> + optimiser steps completed before the update (so t = Offset for the first update):
/// t ≤ W: lr = peak·t/W (so with W &gt; 0 and no offset the first update uses lr 0, as the official runs);
/// W &lt; t ≤ N: lr = min + (peak − min)/2·(1 + cos(π(t − W)/(N − W))); beyond N: min.
/// A non-zero offset continues another run's curve (<see cref="ScheduleKind.Continue"/>).
/// </summary>
public readonly record struct LearningRateSchedule(double Peak, double Min, long Warmup, long Total, long Offset = 0)
{
    /// <summary>Learning rate of the update that follows <paramref name="completed"/> completed steps.</summary>
    public double At(long completed)
    {
        long t = Offset + completed;
        if (Warmup > 0 && t <= Warmup) return Peak * t / Warmup;
        if (t >= Total || Total <= Warmup) return Min;
        double progress = (double)(t - Warmup) / (Total - Warmup);
        return Math.Max(Min, Min + (Peak - Min) / 2 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>
    /// The curve of a run with <paramref name="options"/>: <see cref="ScheduleKind.Cosine"/> from its peak, floor,
    /// warmup and steps; <see cref="ScheduleKind.Continue"/> the source's curve from the source's step;
    /// <see cref="ScheduleKind.Rewarm"/> warmup to the source's final rate, then cosine to the run's floor over its
    /// steps. The last two need <see cref="TrainingOptions.SourceSchedule"/> (checked by <see cref="TrainingOptions.Validate"/>).
    /// </summary>
    public static LearningRateSchedule For(TrainingOptions options) => options.Schedule switch
    {
        ScheduleKind.Cosine => new(options.LearningRate, options.MinLearningRate, options.Warmup, options.Steps),
        ScheduleKind.Continue => Continued(Source(options)),
        ScheduleKind.Rewarm => new(Source(options).FinalLearningRate, options.MinLearningRate, options.Warmup, options.Steps),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Schedule, "unknown schedule"),
    };

    private static LearningRateSchedule Continued(SourceSchedule s) => s.Curve with { Offset = s.Offset + s.Step };

    private static SourceSchedule Source(TrainingOptions options) => options.SourceSchedule
        ?? throw new InvalidSettingException(nameof(TrainingOptions.Schedule), "needs the source run's schedule (SourceSchedule)", ScheduleKinds.Name(options.Schedule));
}
