using TokenFormer.Model;
using TokenFormer.Model.Inference;

namespace TokenFormer.Runtime;

/// <summary>How <see cref="LanguageModel"/> generates: sampling, length and where to stop. Temperature 0 = greedy.</summary>
public sealed record GenerationSettings
{
    /// <summary>Most tokens generated (a stop token counts).</summary>
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>Logits are divided by it before sampling; 0 = greedy.</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Keep only the k most likely tokens; 0 = off.</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus sampling probability mass; 1 = off.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>CTRL repetition penalty on tokens already in the prompt or the output; 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>Seed of the sampler: the same prompt, settings and seed give the same text.</summary>
    public int Seed { get; init; }
    /// <summary>Strings that end the text when produced; the stop string itself is not part of the output.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Whether the tokenizer's end-of-text token ends the text (the default; it is never part of the output).</summary>
    public bool StopAtEndOfText { get; init; } = true;

    /// <summary>The sampling options these settings mean, stopping at <paramref name="endOfTextId"/> when given and asked for.</summary>
    public SamplingOptions ToSamplingOptions(int? endOfTextId)
    {
        var options = new SamplingOptions
        {
            MaxNewTokens = MaxNewTokens, Temperature = Temperature, TopK = TopK, TopP = TopP,
            RepetitionPenalty = RepetitionPenalty, Seed = Seed,
            StopIds = StopAtEndOfText && endOfTextId is int eot ? [eot] : [],
        };
        options.Validate();
        if (StopStrings == null) throw new InvalidSettingException(nameof(StopStrings), "must not be null (use an empty list)", null);
        return options;
    }
}
