namespace TokenFormer.Model.Training;

/// <summary>
/// Linear warmup then cosine decay to a floor (docs/architecture.md, Training), as a function of
/// t = optimiser steps completed before the update (0 for the first update):
/// t ≤ W: lr = peak·t/W (so with W &gt; 0 the first update uses lr 0, as the official runs);
/// W &lt; t ≤ N: lr = min + (peak − min)/2·(1 + cos(π(t − W)/(N − W))); beyond N: min.
/// </summary>
public readonly record struct LearningRateSchedule(double Peak, double Min, long Warmup, long Total)
{
    /// <summary>Learning rate of the update that follows <paramref name="completed"/> completed steps.</summary>
    public double At(long completed)
    {
        if (Warmup > 0 && completed <= Warmup) return Peak * completed / Warmup;
        if (completed >= Total || Total <= Warmup) return Min;
        double progress = (double)(completed - Warmup) / (Total - Warmup);
        return Math.Max(Min, Min + (Peak - Min) / 2 * (1 + Math.Cos(Math.PI * progress)));
    }
}
