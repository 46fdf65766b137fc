using TokenFormer.Model;

namespace TokenFormer.Bench;

/// <summary>
/// Another runtime timed side by side with ours by <c>bench generate --runtime NAME</c> on the same model and the same
/// prefill and decode workloads (batch 1, greedy). The tool ships none: a runtime whose package must not become a
/// dependency of the tool (ONNX Runtime) registers itself from its own bench project
/// (bench/TokenFormer.Bench.OnnxRuntime) before running the tool's command line there.
/// </summary>
public interface IGenerationPeer : IDisposable
{
    /// <summary>Name printed beside the figures.</summary>
    string Name { get; }

    /// <summary>What was loaded and how (printed once).</summary>
    string Description { get; }

    /// <summary>Loads <paramref name="model"/> to run with <paramref name="threads"/> threads.</summary>
    void Load(TokenFormerModel model, int threads);

    /// <summary>One prompt through the model with an empty cache, logits of its last position; returns their argmax.</summary>
    int Prefill(int[] tokens);

    /// <summary>
    /// Greedy generation of <paramref name="newTokens"/> tokens after <paramref name="prompt"/>: stamps[i] is the
    /// <see cref="System.Diagnostics.Stopwatch"/> timestamp when token i is known (token 0 comes from the prompt's
    /// prefill). Returns the tokens.
    /// </summary>
    int[] Decode(int[] prompt, int newTokens, long[] stamps);
}

/// <summary>The runtimes registered for <c>bench generate --runtime</c> besides ours.</summary>
public static class GenerationPeers
{
    private static readonly Dictionary<string, Func<IGenerationPeer>> Registered = [];

    /// <summary>Registers a runtime under <paramref name="name"/> (the value of --runtime).</summary>
    public static void Register(string name, Func<IGenerationPeer> create) => Registered[name] = create;

    /// <summary>The runtime registered as <paramref name="name"/>, or null.</summary>
    public static IGenerationPeer? Create(string name) => Registered.TryGetValue(name, out var create) ? create() : null;
}

/// <summary>
/// The peer's figures from the same run (medians), and the medians of the per-repetition ratios ours ÷ peer (each
/// repetition times ours and then the peer seconds later, the fair pairing when the machine's load changes in bursts).
/// </summary>
public sealed record PeerResult(string Name, string Description, double PrefillTokensPerSecond, double PrefillSecondsMedian,
    double DecodeTokensPerSecond, double MillisecondsPerTokenMedian, int[] FirstTokens, bool SameFirstTokens)
{
    /// <summary>Median over repetitions of ours ÷ peer prefill tokens/s.</summary>
    public double PrefillPairRatio { get; init; }
    /// <summary>Median over repetitions of ours ÷ peer decode tokens/s.</summary>
    public double DecodePairRatio { get; init; }
    /// <summary>Decode against the peer's own bandwidth limit (<c>--against</c>: its bytes per token and its own read probe), or NaN.</summary>
    public double BandwidthFraction { get; init; } = double.NaN;
}
