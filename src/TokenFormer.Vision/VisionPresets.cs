namespace TokenFormer.Vision;

/// <summary>Model sizes for the vision TokenFormer (docs/vision.md, Presets), sized for a two-core CPU.</summary>
public static class VisionPresets
{
    /// <summary>One preset: depth, width, heads, patch size and the three token counts.</summary>
    public sealed record Preset(string Name, int Layers, int Hidden, int Heads, int PatchSize, int QkvTokens, int ProjTokens, int FfnTokens, string Note);

    /// <summary>The presets; <see cref="Default"/> is what <c>vision train</c> uses without --preset.</summary>
    public static readonly Preset[] All =
    [
        new("tiny", 2, 32, 2, 7, 32, 32, 64, "tests and smoke runs"),
        new("small", 6, 64, 4, 7, 64, 64, 256, "the default: Fashion-MNIST in --minutes 18 on 2 threads (docs/vision.md, Results)"),
        new("small-p4", 4, 64, 4, 4, 64, 64, 128, "4×4 patches (49 tokens): about 3× the compute per image of 7×7"),
        new("base", 6, 96, 4, 7, 96, 96, 384, "wider, about 2.2× the compute of small"),
    ];

    /// <summary>The default preset's name.</summary>
    public const string Default = "small";

    /// <summary>The preset called <paramref name="name"/>, or null.</summary>
    public static Preset? Find(string name) => All.FirstOrDefault(p => p.Name == name);
}
