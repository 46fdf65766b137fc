using TokenFormer.Model;
using TokenFormer.Model.Training;

namespace TokenFormer.Cli;

/// <summary>
/// Turns the libraries' typed exceptions into the CLI's one-line errors. The libraries name settings by their property
/// names (<see cref="InvalidSettingException.Setting"/>); each command passes the table from those names to its flags,
/// so an error names what the user typed.
/// </summary>
public static class LibraryErrors
{
    /// <summary>The flags of <c>train</c> by <see cref="TrainingOptions"/> property.</summary>
    public static readonly IReadOnlyDictionary<string, string> TrainFlags = new Dictionary<string, string>
    {
        [nameof(TrainingOptions.Steps)] = "--steps", [nameof(TrainingOptions.Batch)] = "--batch", [nameof(TrainingOptions.Sequence)] = "--seq",
        [nameof(TrainingOptions.GradAccum)] = "--grad-accum", [nameof(TrainingOptions.LearningRate)] = "--lr",
        [nameof(TrainingOptions.MinLearningRate)] = "--min-lr", [nameof(TrainingOptions.Warmup)] = "--warmup",
        [nameof(TrainingOptions.WeightDecay)] = "--weight-decay", [nameof(TrainingOptions.Clip)] = "--clip", [nameof(TrainingOptions.Seed)] = "--seed",
        [nameof(TrainingOptions.EvalWindows)] = "--eval-windows", [nameof(TrainingOptions.FreezeOld)] = "--freeze-old", [nameof(TrainingOptions.Schedule)] = "--schedule",
        [nameof(TrainingOptions.OldLearningRateScale)] = "--old-lr-scale",
        [nameof(TrainingOptions.EvalEvery)] = "--eval-every", [nameof(TrainingOptions.SaveEvery)] = "--save-every",
        [nameof(TrainingOptions.KeepLast)] = "--keep-last", [nameof(TrainingOptions.StopAt)] = "--stop-at", [nameof(TrainingOptions.LogEvery)] = "--log-every",
    };

    /// <summary>The flags of <c>generate</c> by <see cref="Model.Inference.SamplingOptions"/> property.</summary>
    public static readonly IReadOnlyDictionary<string, string> GenerateFlags = new Dictionary<string, string>
    {
        ["MaxNewTokens"] = "--max-new-tokens", ["Temperature"] = "--temperature", ["TopK"] = "--top-k", ["TopP"] = "--top-p",
        ["RepetitionPenalty"] = "--repetition-penalty", ["Seed"] = "--seed", ["MaxLength"] = "--max-length",
    };

    /// <summary>
    /// The CLI's message for a library exception <paramref name="e"/>: a setting spelled as its flag from
    /// <paramref name="flags"/>, the training splits and run directories with the options that fix them; any other
    /// exception keeps its message (the libraries' messages name files and fields, not flags).
    /// </summary>
    public static CliException ToCli(Exception e, IReadOnlyDictionary<string, string>? flags = null) => new(e switch
    {
        InvalidSettingException s when flags != null && flags.TryGetValue(s.Setting, out string? flag) => s.Describe(flag),
        SplitTooShortException { Split: SplitTooShortException.TrainSplit } t =>
            $"the train split has {t.Tokens} tokens, but one window needs --seq + 1 = {t.WindowTokens}; use a smaller --seq or more text",
        SplitTooShortException v =>
            $"the validation split has {v.Tokens} tokens, but one window needs --seq + 1 = {v.WindowTokens}; " +
            "prepare with a larger --val-fraction, use a smaller --seq, or pass --eval-every 0",
        ExistingRunException r =>
            $"{r.RunDirectory} already holds checkpoints (newest: {r.NewestCheckpoint}); pass --resume to continue it or choose another --out",
        TrainingDivergedException d => $"{d.Message} (train options --lr and --warmup)",
        _ => e.Message,
    });
}
