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

    /// <summary>Throws <see cref="ArgumentException"/> naming the option when a value is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(Steps > 0, $"--steps must be positive (got {Steps})");
        Check(Batch > 0, $"--batch must be positive (got {Batch})");
        Check(Sequence > 0, $"--seq must be positive (got {Sequence})");
        Check(GradAccum > 0, $"--grad-accum must be positive (got {GradAccum})");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), $"--lr must be a positive number (got {LearningRate})");
        Check(MinLearningRate >= 0 && MinLearningRate <= LearningRate, $"--min-lr must be in [0, --lr] (got {MinLearningRate})");
        Check(Warmup >= 0, $"--warmup must be non-negative (got {Warmup})");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), $"--weight-decay must be non-negative (got {WeightDecay})");
        Check(Clip >= 0 && double.IsFinite(Clip), $"--clip must be non-negative (got {Clip})");
        Check(EvalWindows > 0, $"--eval-windows must be positive (got {EvalWindows})");
        Check(EvalEvery >= 0, $"--eval-every must be non-negative (got {EvalEvery})");
        Check(SaveEvery >= 0, $"--save-every must be non-negative (got {SaveEvery})");
        Check(KeepLast >= 0, $"--keep-last must be non-negative (got {KeepLast})");
        Check(StopAt >= 0, $"--stop-at must be non-negative (got {StopAt})");
        Check(LogEvery > 0, $"--log-every must be positive (got {LogEvery})");
    }
}
