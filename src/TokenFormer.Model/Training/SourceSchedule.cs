using System.Text.Json.Serialization;

namespace TokenFormer.Model.Training;

/// <summary>
/// The learning-rate curve of the run a model came from and how far that run got: what the <see cref="ScheduleKind.Continue"/>
/// and <see cref="ScheduleKind.Rewarm"/> schedules start from. <see cref="Offset"/> is the source curve's own offset
/// (non-zero when the source itself continued another run's curve).
/// </summary>
public sealed record SourceSchedule
{
    /// <summary>Peak learning rate of the source curve.</summary>
    [JsonPropertyName("lr")] public double Peak { get; init; }
    /// <summary>Floor of the source curve.</summary>
    [JsonPropertyName("min_lr")] public double Min { get; init; }
    /// <summary>Warmup steps of the source curve.</summary>
    [JsonPropertyName("warmup")] public long Warmup { get; init; }
    /// <summary>End of the source curve's decay (<see cref="LearningRateSchedule.Never"/>: it never decays).</summary>
    [JsonPropertyName("steps")] public long Total { get; init; }
    /// <summary>Where the source curve's stable stretch ends and its decay begins (0: right after the warmup, a plain cosine; <see cref="LearningRateSchedule.Never"/>: never).</summary>
    [JsonPropertyName("decay_start")] public long DecayStart { get; init; }
    /// <summary>Steps added to the source run's own step count before the curve is evaluated.</summary>
    [JsonPropertyName("offset")] public long Offset { get; init; }
    /// <summary>Optimiser steps the source run had completed.</summary>
    [JsonPropertyName("step")] public long Step { get; init; }

    /// <summary>The source run's curve.</summary>
    [JsonIgnore] public LearningRateSchedule Curve => new(Peak, Min, Warmup, Total, Offset, DecayStart);

    /// <summary>The learning rate of the update the source run would have made next.</summary>
    [JsonIgnore] public double FinalLearningRate => Curve.At(Step);

    /// <summary>The schedule of a run described by <paramref name="options"/> after <paramref name="step"/> completed steps.</summary>
    public static SourceSchedule Of(TrainingOptions options, long step)
    {
        LearningRateSchedule c = LearningRateSchedule.For(options);
        return new SourceSchedule { Peak = c.Peak, Min = c.Min, Warmup = c.Warmup, Total = c.Total, Offset = c.Offset, DecayStart = c.DecayStart, Step = step };
    }
}
