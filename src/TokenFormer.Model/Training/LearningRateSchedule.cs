namespace TokenFormer.Model.Training;

/// <summary>
/// Linear warmup, an optional stable stretch at the peak, then cosine decay to a floor (docs/architecture.md, Training;
/// docs/growth.md), as a function of t = <see cref="Offset"/> + optimiser steps completed before the update (so
/// t = Offset for the first update), with D = max(<see cref="Warmup"/>, <see cref="DecayStart"/>):
/// t ≤ W: lr = peak·t/W (so with W &gt; 0 and no offset the first update uses lr 0, as the official runs);
/// W &lt; t &lt; D: peak; D ≤ t ≤ N: lr = min + (peak − min)/2·(1 + cos(π(t − D)/(N − D))); beyond N: min.
/// <see cref="DecayStart"/> 0 is the plain warmup + cosine; <see cref="DecayStart"/> = <see cref="Total"/> =
/// <see cref="long.MaxValue"/> never decays (warmup-stable, for a model that will be grown and trained on).
/// A non-zero offset continues another run's curve (<see cref="ScheduleKind.Continue"/>).
/// </summary>
public readonly record struct LearningRateSchedule(double Peak, double Min, long Warmup, long Total, long Offset = 0, long DecayStart = 0)
{
    /// <summary>A <see cref="Total"/> and <see cref="DecayStart"/> that are never reached: the rate stays at the peak.</summary>
    public const long Never = long.MaxValue;

    /// <summary>Learning rate of the update that follows <paramref name="completed"/> completed steps.</summary>
    public double At(long completed)
    {
        long t = Offset + completed;
        if (Warmup > 0 && t <= Warmup) return Peak * t / Warmup;
        long decay = Math.Max(Warmup, DecayStart);
        if (t < decay) return Peak;
        if (t >= Total || Total <= decay) return Min;
        double progress = (double)(t - decay) / (Total - decay);
        return Math.Max(Min, Min + (Peak - Min) / 2 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>
    /// True when the rate at t = <paramref name="t"/> is a held value rather than part of a ramp: the stable stretch (after
    /// the warmup, before the decay) or the floor after the end. A run that continues the curve from there can hold that
    /// rate and decay at its own end.
    /// </summary>
    public bool HeldAt(long t) => (Warmup == 0 || t > Warmup) && (t < Math.Max(Warmup, DecayStart) || t >= Total);

    /// <summary>
    /// The curve of a run with <paramref name="options"/>: <see cref="ScheduleKind.Cosine"/> from its peak, floor,
    /// warmup and steps; <see cref="ScheduleKind.Wsd"/> the same with the decay only over the last
    /// <see cref="TrainingOptions.DecaySteps"/> (none: stable to the end and beyond); <see cref="ScheduleKind.Continue"/>
    /// the source's curve from the source's step, and where that rate was held (stable or at its floor) the rate held, then the
    /// run's own decay over its last <see cref="TrainingOptions.DecaySteps"/>; <see cref="ScheduleKind.Rewarm"/>
    /// warmup to the source's final rate, then cosine to the run's floor over its steps. The last two need
    /// <see cref="TrainingOptions.SourceSchedule"/> (checked by <see cref="TrainingOptions.Validate"/>).
    /// </summary>
    public static LearningRateSchedule For(TrainingOptions options) => options.Schedule switch
    {
        ScheduleKind.Cosine => new(options.LearningRate, options.MinLearningRate, options.Warmup, options.Steps),
        ScheduleKind.Wsd => WarmupStableDecay(options),
        ScheduleKind.Continue => Continued(options, Source(options)),
        ScheduleKind.Rewarm => new(Source(options).FinalLearningRate, options.MinLearningRate, options.Warmup, options.Steps),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Schedule, "unknown schedule"),
    };

    /// <summary>Decay steps of a run: <see cref="TrainingOptions.DecaySteps"/>, or its default for the schedule (a fifth of the steps; 0 for a continued curve that was mid-ramp).</summary>
    public static long DecayStepsOf(TrainingOptions options) => options.DecaySteps ?? options.Schedule switch
    {
        ScheduleKind.Wsd => options.Steps / 5,
        ScheduleKind.Continue when options.SourceSchedule is { } s && s.Curve.HeldAt(s.Offset + s.Step) => options.Steps / 5,
        _ => 0,
    };

    private static LearningRateSchedule WarmupStableDecay(TrainingOptions options)
    {
        long decay = DecayStepsOf(options);
        return decay == 0
            ? new(options.LearningRate, options.MinLearningRate, options.Warmup, Never, 0, Never)
            : new(options.LearningRate, options.MinLearningRate, options.Warmup, options.Steps, 0, options.Steps - decay);
    }

    // the source's curve carried on; where the source's rate was held (its stable stretch, or its floor) the run holds it
    // and decays to its own floor over its last steps (Validate refuses decay steps when the source was mid-ramp)
    private static LearningRateSchedule Continued(TrainingOptions options, SourceSchedule s)
    {
        LearningRateSchedule c = s.Curve with { Offset = s.Offset + s.Step };
        long decay = DecayStepsOf(options);
        if (decay == 0) return c;
        long end = c.Offset + options.Steps;
        return new LearningRateSchedule(s.FinalLearningRate, options.MinLearningRate, 0, end, c.Offset, end - decay);
    }

    private static SourceSchedule Source(TrainingOptions options) => options.SourceSchedule
        ?? throw new InvalidSettingException(nameof(TrainingOptions.Schedule), "needs the source run's schedule (SourceSchedule)", ScheduleKinds.Name(options.Schedule));
}
