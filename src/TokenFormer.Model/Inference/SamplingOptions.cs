namespace TokenFormer.Model.Inference;

/// <summary>How the next token is chosen. Temperature 0 = greedy.</summary>
public record SamplingOptions
{
    /// <summary>Most tokens generated per prompt (stop ids count as generated).</summary>
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>Logits are divided by it before sampling; 0 → greedy (argmax).</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Keep only logits ≥ the k-th largest (ties kept); 0 → off.</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus: keep the most likely tokens until their cumulative probability exceeds p (the first token crossing p is kept); 1 → off.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>CTRL-style penalty on every token already in the prompt or the output: positive logits divided, negative multiplied; 1 → off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>Seed of the per-sequence random generator (every sequence starts from this seed, so a prompt samples the same alone or in a batch).</summary>
    public int Seed { get; init; }
    /// <summary>Token ids that end a sequence (reported to onToken, not included in the returned ids).</summary>
    public IReadOnlyList<int> StopIds { get; init; } = [];

    /// <summary>Throws <see cref="InvalidSettingException"/> naming the property when a value is out of range.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new InvalidSettingException(nameof(MaxNewTokens), "must be at least 0", MaxNewTokens);
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new InvalidSettingException(nameof(Temperature), "must be a finite number ≥ 0", Temperature, "0 = greedy");
        if (TopK < 0) throw new InvalidSettingException(nameof(TopK), "must be at least 0", TopK, "0 = off");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidSettingException(nameof(TopP), "must be in (0, 1]", TopP, "1 = off");
        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty))
            throw new InvalidSettingException(nameof(RepetitionPenalty), "must be a finite number > 0", RepetitionPenalty, "1 = off");
    }
}
