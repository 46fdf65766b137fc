namespace TokenFormer.Model.Training;

/// <summary>What a <see cref="Trainer"/> needs besides the numbers: where to report, and what to add to checkpoints.</summary>
public sealed record TrainerContext
{
    /// <summary>Files copied into every checkpoint's model directory (e.g. the data's tokenizer.json).</summary>
    public IReadOnlyList<string> ExtraFiles { get; init; } = [];
    /// <summary>Hash of the data's tokenizer, recorded in trainer_state.json.</summary>
    public string? TokenizerHash { get; init; }
    /// <summary>Where progress goes (null: nowhere).</summary>
    public TextWriter? Output { get; init; }
    /// <summary>Whether <see cref="Output"/> is a terminal (one line updated in place).</summary>
    public bool Interactive { get; init; }
    /// <summary>When cancelled (e.g. Ctrl+C), the run saves a checkpoint after the current step and returns.</summary>
    public CancellationToken Stop { get; init; }
    /// <summary>Called on the training thread after every optimiser step with its figures (null: not called).</summary>
    public Action<StepMetrics>? OnStep { get; init; }
    /// <summary>Called on the training thread after every evaluation with its figures (null: not called).</summary>
    public Action<EvalMetrics>? OnEvaluation { get; init; }
}

/// <summary>How a <see cref="Trainer.Run"/> ended; <see cref="LastCheckpoint"/> is null when nothing was saved (no run directory).</summary>
public sealed record TrainingResult(long Step, double LastLoss, double? LastValLoss, string? LastCheckpoint, bool Finished);
