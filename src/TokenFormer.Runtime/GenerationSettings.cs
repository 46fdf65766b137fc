using TokenFormer.Model;
using TokenFormer.Model.Inference;

namespace TokenFormer.Runtime;

/// <summary>
/// How <see cref="LanguageModel"/> generates: the sampling options of the model (<see cref="SamplingOptions"/>:
/// length, temperature 0 = greedy, top-k, top-p, repetition penalty, seed) plus where the text stops.
/// </summary>
public sealed record GenerationSettings : SamplingOptions
{
    /// <summary>Strings that end the text when produced; the stop string itself is not part of the output.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Whether the tokenizer's end-of-text token ends the text (the default; it is never part of the output).</summary>
    public bool StopAtEndOfText { get; init; } = true;

    /// <summary>The sampling options these settings mean, stopping at <paramref name="endOfTextId"/> when given and asked for.</summary>
    public SamplingOptions ToSamplingOptions(int? endOfTextId)
    {
        Validate();
        if (StopStrings == null) throw new InvalidSettingException(nameof(StopStrings), "must not be null (use an empty list)", null);
        return this with { StopIds = StopAtEndOfText && endOfTextId is int eot ? [.. StopIds, eot] : StopIds };
    }
}
