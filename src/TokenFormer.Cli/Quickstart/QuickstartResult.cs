using TokenFormer.Model;

namespace TokenFormer.Cli.Quickstart;

/// <summary>One generated sample: the prompt, the continuation and its length in tokens.</summary>
public sealed record QuickstartSample(string Prompt, string Continuation, int Tokens);

/// <summary>
/// One training phase: the model, its non-embedding and total parameters, steps, tokens, training FLOPs, seconds,
/// validation loss at its first and last evaluation, and its final checkpoint (a model directory).
/// </summary>
public sealed record PhaseFigures(string Name, TokenFormerConfig Config, long NonEmbeddingParameters, long Parameters, long Steps, long Tokens,
    double Flops, double Seconds, double FirstValLoss, double LastValLoss, string Checkpoint);

/// <summary>Everything a quickstart run measured (written to summary.md and summary.json).</summary>
public sealed record QuickstartResult
{
    /// <summary>|loss right after growth − loss before| up to which the function counts as preserved (float32 sums in another order).</summary>
    public const double PreservedTolerance = 1e-4;

    public required string RunDirectory { get; init; }
    public required string Corpus { get; init; }
    public required string CorpusKind { get; init; }
    public string? Fallback { get; init; }
    public int VocabSize { get; init; }
    public long TrainTokens { get; init; }
    public long ValTokens { get; init; }
    public int Threads { get; init; }
    public int Batch { get; init; }
    public int Sequence { get; init; }
    public int Seed { get; init; }
    public int EvalWindows { get; init; }
    public required PhaseFigures Small { get; init; }
    public required PhaseFigures Large { get; init; }
    /// <summary>S's validation loss at its last step.</summary>
    public double LossBeforeGrowth { get; init; }
    /// <summary>The grown model's validation loss before any training (same windows).</summary>
    public double LossAfterGrowth { get; init; }
    /// <summary>L's validation loss at its last step.</summary>
    public double LossFinal { get; init; }
    public required string GrownDirectory { get; init; }
    public required IReadOnlyList<QuickstartSample> Samples { get; init; }
    public required string PlanNote { get; init; }
    /// <summary>Wall time of the whole run.</summary>
    public double Seconds { get; init; }
    /// <summary>Whether growth preserved the validation loss within <see cref="PreservedTolerance"/>.</summary>
    public bool Preserved => Math.Abs(LossAfterGrowth - LossBeforeGrowth) <= PreservedTolerance;
}
