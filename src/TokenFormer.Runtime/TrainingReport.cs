using TokenFormer.Model.Training;

namespace TokenFormer.Runtime;

/// <summary>
/// What <see cref="LanguageModel.Train"/> did: the step reached, the training loss of every step (first to last), the
/// evaluations (when validation text was given), the checkpoint written (only with a run directory) and whether
/// all the steps ran (false when cancelled).
/// </summary>
public sealed record TrainingReport(long Step, IReadOnlyList<StepMetrics> Steps, IReadOnlyList<EvalMetrics> Evaluations,
    string? LastCheckpoint, bool Finished)
{
    /// <summary>Loss of the first step run (NaN when none ran).</summary>
    public double FirstLoss => Steps.Count > 0 ? Steps[0].Loss : double.NaN;
    /// <summary>Loss of the last step run (NaN when none ran).</summary>
    public double LastLoss => Steps.Count > 0 ? Steps[^1].Loss : double.NaN;
}
