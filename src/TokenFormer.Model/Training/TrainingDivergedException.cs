namespace TokenFormer.Model.Training;

/// <summary>
/// The loss or the gradients became NaN or infinite; the message names the step and the last good checkpoint.
/// Nothing was saved for that step. A lower peak learning rate or a longer warmup usually helps.
/// </summary>
public sealed class TrainingDivergedException(long step, string message) : Exception(message)
{
    /// <summary>The optimiser step (1-based) whose loss or gradients were not finite.</summary>
    public long Step { get; } = step;
}
