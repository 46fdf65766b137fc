namespace TokenFormer.Text;

/// <summary>Settings of <see cref="BpeTrainer"/>; the defaults make a GPT-2-style byte-level BPE.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Target vocabulary size, special tokens and the initial alphabet included (Hugging Face's <c>vocab_size</c>).</summary>
    public int VocabSize { get; init; } = 16384;

    /// <summary>Pairs seen fewer times than this are not merged (Hugging Face's <c>min_frequency</c>).</summary>
    public long MinFrequency { get; init; }

    /// <summary>Special tokens, given the first ids in this order and added as special added tokens.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [Tokenizer.EndOfTextToken];

    /// <summary>
    /// Start from all 256 byte-level characters, so that any text can be encoded (Hugging Face's
    /// <c>initial_alphabet = ByteLevel.alphabet()</c>). When false, only characters seen in training are included.
    /// </summary>
    public bool ByteLevelAlphabet { get; init; } = true;

    /// <summary>The ByteLevel pre-tokenizer's <c>add_prefix_space</c> (for training and the saved tokenizer).</summary>
    public bool AddPrefixSpace { get; init; }

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (VocabSize < 1) throw new ArgumentException($"VocabSize must be at least 1 (got {VocabSize})", nameof(VocabSize));
        if (MinFrequency < 0) throw new ArgumentException($"MinFrequency must be at least 0 (got {MinFrequency})", nameof(MinFrequency));
        foreach (string s in SpecialTokens)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("SpecialTokens must not contain empty strings", nameof(SpecialTokens));
    }
}
