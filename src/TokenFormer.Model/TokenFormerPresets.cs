namespace TokenFormer.Model;

/// <summary>
/// Named model sizes: the four official Pile models (docs/architecture.md, Parameters and presets) and small CPU presets. The CPU presets' vocabulary
/// is a placeholder; when training, the vocabulary comes from the tokenizer.
/// </summary>
public static class TokenFormerPresets
{
    /// <summary>One preset: a name, a one-line description and the config it builds.</summary>
    public sealed record Preset(string Name, string Description, Func<TokenFormerConfig> Create);

    private static TokenFormerConfig Make(int layers, int d, int heads, int nQkv, int nProj, int nFfn, int vocab, int maxPos) => new()
    {
        NumLayers = layers,
        HiddenSize = d,
        NumAttentionHeads = heads,
        QkvSlotNum = nQkv,
        ProjSlotNum = nProj,
        FfnSlotNum = nFfn,
        NormActivationType = "l2_norm_gelu",
        RotaryPct = 0.25,
        RotaryEmbBase = 10000,
        LayerNormEpsilon = 1e-5,
        MaxPositionEmbeddings = maxPos,
        VocabSize = vocab,
    };

    /// <summary>All presets, smallest first.</summary>
    public static IReadOnlyList<Preset> All { get; } =
    [
        new("micro", "CPU preset, ~1M parameters (L2 d128 4 heads, vocab 4096)", () => Make(2, 128, 4, 128, 128, 512, 4096, 1024)),
        new("tiny", "CPU preset, ~5M parameters (L4 d256 4 heads, vocab 4096; bench 'tiny')", () => Make(4, 256, 4, 256, 256, 1024, 4096, 2048)),
        new("small", "CPU preset, ~29M parameters (L6 d512 8 heads, vocab 8192; bench 'small')", () => Make(6, 512, 8, 512, 512, 2048, 8192, 2048)),
        new("150m", "official TokenFormer-150M (L12 d768 12 heads)", () => Make(12, 768, 12, 768, 768, 3072, 50304, 2048)),
        new("450m", "official TokenFormer-450M (L24 d1024 16 heads)", () => Make(24, 1024, 16, 1024, 1024, 4096, 50304, 2048)),
        new("900m", "official TokenFormer-900M (L32 d1280 16 heads)", () => Make(32, 1280, 16, 1280, 1280, 5120, 50304, 2048)),
        new("1.5b", "official TokenFormer-1.5B (L40 d1536 16 heads)", () => Make(40, 1536, 16, 1536, 1536, 6144, 50304, 2048)),
    ];

    /// <summary>The config of preset <paramref name="name"/> (case-insensitive); throws listing the valid names.</summary>
    public static TokenFormerConfig Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.Create()
        ?? throw new TokenFormerConfigException($"unknown preset '{name}' (expected one of {string.Join(", ", All.Select(p => p.Name))})");
}
