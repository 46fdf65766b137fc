namespace TokenFormer.Cli.Serve;

/// <summary>
/// The sampling settings of one validated completion request. Two requests whose settings are equal (see
/// <see cref="CanShareBatchWith"/>) can be generated together in one batch.
/// </summary>
public sealed record CompletionSettings
{
    /// <summary>Most tokens generated per prompt (≥ 1).</summary>
    public int MaxTokens { get; init; } = 16;
    /// <summary>Softmax temperature (≥ 0); 0 is greedy.</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Nucleus mass in (0, 1]; 1 is off.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Keep the K most likely tokens (≥ 0); 0 is off.</summary>
    public int TopK { get; init; }
    /// <summary>CTRL-style repetition penalty (&gt; 0); 1 is off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>Random seed, or null for a fresh random one (picked by the worker).</summary>
    public int? Seed { get; init; }
    /// <summary>Stop strings: generation of a prompt ends before the first one it produces.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>
    /// True when <paramref name="other"/> samples exactly like this one, so both can run in one batch without changing
    /// either result. Greedy requests ignore the seed. Sampled requests need the same explicit seed: every sequence of a
    /// batch starts from the batch's seed, so two unseeded requests batched together would draw the same random numbers
    /// (the same text for the same prompt) instead of independent samples.
    /// </summary>
    public bool CanShareBatchWith(CompletionSettings other) =>
        MaxTokens == other.MaxTokens
        && Temperature == other.Temperature
        && TopP == other.TopP
        && TopK == other.TopK
        && RepetitionPenalty == other.RepetitionPenalty
        && (Temperature == 0 || (Seed is not null && Seed == other.Seed))
        && Stop.SequenceEqual(other.Stop, StringComparer.Ordinal);
}
