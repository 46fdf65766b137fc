namespace TokenFormer.Model.Training;

/// <summary>
/// Settings of a <see cref="Trainer"/> run. The first group decides the numbers (stored in every checkpoint and
/// reused on resume); the second only when things happen.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Optimiser steps in the whole run (also the end of the cosine schedule).</summary>
    public long Steps { get; init; } = 1000;
    /// <summary>Sequences per micro-batch.</summary>
    public int Batch { get; init; } = 8;
    /// <summary>Tokens per sequence (windows are Sequence + 1 ids: inputs and shifted targets).</summary>
    public int Sequence { get; init; } = 256;
    /// <summary>Micro-batches per optimiser step (their mean gradient is used).</summary>
    public int GradAccum { get; init; } = 1;
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 6e-4;
    /// <summary>Floor of the cosine schedule.</summary>
    public double MinLearningRate { get; init; } = 6e-5;
    /// <summary>Linear warmup steps.</summary>
    public long Warmup { get; init; } = 100;
    /// <summary>Decoupled weight decay λ (all tensors but the final LayerNorm).</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Global gradient-norm clip (0 = off).</summary>
    public double Clip { get; init; } = 1.0;
    /// <summary>Seed of the initialisation and of the window sampler.</summary>
    public int Seed { get; init; } = 1234;
    /// <summary>Validation windows evaluated at each eval (a fixed, evenly spaced set).</summary>
    public int EvalWindows { get; init; } = 32;
    /// <summary>
    /// Train only the parameter-token rows added by the model's newest growth step; the embedding, the final LayerNorm
    /// and the old token rows stay bit-identical (needs a model with a growth lineage).
    /// </summary>
    public bool FreezeOld { get; init; }
    /// <summary>The learning-rate curve (default <see cref="ScheduleKind.Cosine"/>: warmup + cosine over <see cref="Steps"/>).</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;
    /// <summary>
    /// The curve of the run the model came from and the step it stopped at; needed by <see cref="ScheduleKind.Continue"/>
    /// and <see cref="ScheduleKind.Rewarm"/> (null: none).
    /// </summary>
    public SourceSchedule? SourceSchedule { get; init; }
    /// <summary>
    /// Steps at the end of the run over which <see cref="ScheduleKind.Wsd"/>, and a <see cref="ScheduleKind.Continue"/>d curve
    /// whose rate was held (stable or at its floor), decay to <see cref="MinLearningRate"/> (null: a fifth of
    /// <see cref="Steps"/>, and none when the continued curve was mid-ramp; 0: no decay). Not used by the other schedules.
    /// </summary>
    public long? DecaySteps { get; init; }
    /// <summary>
    /// Multiple of the learning rate for the parameters a grown model had before its newest growth step (the embedding,
    /// the final LayerNorm and the old token rows); 1 (default) trains them like the new rows, 0 leaves them
    /// bit-identical while their moments still follow their gradients. Values other than 1 need a grown model.
    /// </summary>
    public double OldLearningRateScale { get; init; } = 1;

    /// <summary>Evaluate every this many steps (0 = never; the last step is always evaluated when &gt; 0).</summary>
    public long EvalEvery { get; init; } = 100;
    /// <summary>Checkpoint every this many steps (0 = only at the end).</summary>
    public long SaveEvery { get; init; } = 500;
    /// <summary>Keep only the newest K checkpoints (0 = keep all).</summary>
    public int KeepLast { get; init; } = 3;
    /// <summary>Stop this invocation after this step (with a checkpoint) even if <see cref="Steps"/> is larger; 0 = no.</summary>
    public long StopAt { get; init; }
    /// <summary>Plain-log interval when the output is not a terminal.</summary>
    public long LogEvery { get; init; } = 10;

    /// <summary>Throws <see cref="InvalidSettingException"/> naming the property when a value is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string setting, string requirement, object value) { if (!ok) throw new InvalidSettingException(setting, requirement, value); }
        Check(Steps > 0, nameof(Steps), "must be positive", Steps);
        Check(Batch > 0, nameof(Batch), "must be positive", Batch);
        Check(Sequence > 0, nameof(Sequence), "must be positive", Sequence);
        Check(GradAccum > 0, nameof(GradAccum), "must be positive", GradAccum);
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), "must be a positive number", LearningRate);
        // the peak is the run's own only for the cosine and wsd schedules; rewarm's is checked below, continue's with the decay
        Check(MinLearningRate >= 0 && (Schedule is not (ScheduleKind.Cosine or ScheduleKind.Wsd) || MinLearningRate <= LearningRate), nameof(MinLearningRate),
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"must be at least 0 and at most the peak learning rate {LearningRate}"), MinLearningRate);
        Check(Warmup >= 0, nameof(Warmup), "must be non-negative", Warmup);
        Check(Enum.IsDefined(Schedule), nameof(Schedule), "must be cosine, wsd, continue or rewarm", Schedule);
        Check(Schedule is ScheduleKind.Cosine or ScheduleKind.Wsd || SourceSchedule != null, nameof(Schedule),
            "needs the source run's schedule (SourceSchedule: the curve and step of the run the model came from)", ScheduleKinds.Name(Schedule));
        if (Schedule == ScheduleKind.Rewarm && SourceSchedule != null)
        {
            double final = SourceSchedule.FinalLearningRate;
            Check(MinLearningRate <= final, nameof(MinLearningRate),
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"must be at most the source run's final learning rate {final} (the peak of the rewarm schedule)"), MinLearningRate);
        }
        if (DecaySteps is long decay)
        {
            Check(decay >= 0 && decay <= Steps, nameof(DecaySteps), $"must be between 0 and the run's steps {Steps}", decay);
            Check(decay == 0 || Schedule is ScheduleKind.Wsd or ScheduleKind.Continue, nameof(DecaySteps),
                "applies only to the wsd and continue schedules (cosine and rewarm decay over the whole run)", decay);
        }
        if (Schedule == ScheduleKind.Continue && SourceSchedule is { } source && LearningRateSchedule.DecayStepsOf(this) > 0)
        {
            Check(source.Curve.HeldAt(source.Offset + source.Step), nameof(DecaySteps),
                "needs a source run whose rate was held when it stopped (the stable stretch of wsd, or the floor after its decay); " +
                "this one stopped mid-ramp, so continue its curve without decay steps", DecaySteps!);
            double rate = source.FinalLearningRate;
            Check(MinLearningRate <= rate, nameof(MinLearningRate),
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"must be at most the source run's learning rate {rate}, from which the run decays"), MinLearningRate);
        }
        Check(OldLearningRateScale >= 0 && double.IsFinite(OldLearningRateScale), nameof(OldLearningRateScale), "must be a number at least 0", OldLearningRateScale);
        Check(OldLearningRateScale == 1 || !FreezeOld, nameof(OldLearningRateScale),
            "cannot be combined with FreezeOld, which already keeps the old parameters fixed", OldLearningRateScale);
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), "must be non-negative", WeightDecay);
        Check(Clip >= 0 && double.IsFinite(Clip), nameof(Clip), "must be non-negative", Clip);
        Check(EvalWindows > 0, nameof(EvalWindows), "must be positive", EvalWindows);
        Check(EvalEvery >= 0, nameof(EvalEvery), "must be non-negative", EvalEvery);
        Check(SaveEvery >= 0, nameof(SaveEvery), "must be non-negative", SaveEvery);
        Check(KeepLast >= 0, nameof(KeepLast), "must be non-negative", KeepLast);
        Check(StopAt >= 0, nameof(StopAt), "must be non-negative", StopAt);
        Check(LogEvery > 0, nameof(LogEvery), "must be positive", LogEvery);
    }
}
