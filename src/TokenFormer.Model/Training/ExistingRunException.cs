namespace TokenFormer.Model.Training;

/// <summary>
/// A fresh run was asked for in a run directory that already holds checkpoints; continuing it is
/// <see cref="Trainer.Resume"/>'s job, so nothing is overwritten.
/// </summary>
public sealed class ExistingRunException(string runDirectory, string newestCheckpoint)
    : ArgumentException($"{runDirectory} already holds checkpoints (newest: {newestCheckpoint}); resume that run or choose another run directory")
{
    /// <summary>The run directory.</summary>
    public string RunDirectory { get; } = runDirectory;
    /// <summary>Path of its newest complete checkpoint.</summary>
    public string NewestCheckpoint { get; } = newestCheckpoint;
}
