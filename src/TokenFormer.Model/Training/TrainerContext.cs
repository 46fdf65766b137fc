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
    /// <summary>
    /// Data-parallel training (docs/distributed.md): the ranks of the job (null or one rank: training in one process, as
    /// before). Each rank trains on its share of every global batch (<see cref="TrainingOptions.Batch"/> windows per rank
    /// and micro-batch); only rank 0 writes files and reports progress.
    /// </summary>
    public Distributed.ICommunicator? Communicator { get; init; }
    /// <summary>Shard the AdamW state over the ranks (ZeRO stage 1): reduce-scatter, update of a slice, all-gather.</summary>
    public bool ShardOptimizer { get; init; }
    /// <summary>Floats per gradient bucket reduced during the backward pass (0: one allreduce after it). Default 1 M (4 MB).</summary>
    public int BucketFloats { get; init; } = 1 << 20;
    /// <summary>
    /// Parameters held fixed in this process besides <see cref="TrainingOptions.FreezeOld"/> (e.g. every layer but the last
    /// ones, for the adapter experiment's baseline, docs/adapters.md); not recorded in checkpoints. Null: none.
    /// </summary>
    public IReadOnlyList<Growth.ParameterRange>? Frozen { get; init; }
}

/// <summary>How a <see cref="Trainer.Run"/> ended; <see cref="LastCheckpoint"/> is null when nothing was saved (no run directory).</summary>
public sealed record TrainingResult(long Step, double LastLoss, double? LastValLoss, string? LastCheckpoint, bool Finished);
