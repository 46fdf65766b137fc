namespace TokenFormer.Model.Training;

/// <summary>
/// A token split holds fewer tokens than one training or evaluation window (<see cref="TrainingOptions.Sequence"/> + 1:
/// the inputs and the targets shifted by one).
/// </summary>
public sealed class SplitTooShortException(string split, long tokens, int windowTokens)
    : ArgumentException(split == TrainSplit
        ? $"the train split has {tokens} tokens, but one window needs Sequence + 1 = {windowTokens}; use a shorter Sequence or more text"
        : $"the validation split has {tokens} tokens, but one window needs Sequence + 1 = {windowTokens}; " +
          "give a longer validation split, use a shorter Sequence, or turn evaluation off (EvalEvery 0)")
{
    /// <summary><see cref="Split"/> of the training stream.</summary>
    public const string TrainSplit = "train";
    /// <summary><see cref="Split"/> of the validation stream.</summary>
    public const string ValidationSplit = "validation";

    /// <summary><see cref="TrainSplit"/> or <see cref="ValidationSplit"/>.</summary>
    public string Split { get; } = split;
    /// <summary>Tokens the split holds.</summary>
    public long Tokens { get; } = tokens;
    /// <summary>Tokens one window needs (sequence + 1).</summary>
    public int WindowTokens { get; } = windowTokens;
}
