using TokenFormer.Model;
using TokenFormer.Text;

namespace TokenFormer.TestSupport;

/// <summary>Training data for tests: the committed text excerpt, a small BPE trained on it, a tiny config and temp folders.</summary>
public static class TrainingFixtures
{
    private static readonly Lazy<Tokenizer> SmallTokenizer = new(() =>
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 320 });
        trainer.AddText(Text);
        return trainer.Train();
    });

    /// <summary>tests/fixtures/training, found by walking up from the test binaries.</summary>
    public static string Directory { get; } = RepositoryPaths.Require(Path.Combine("tests", "fixtures", "training"));

    /// <summary>The committed excerpt (about 3.4 KB).</summary>
    public static string Text => File.ReadAllText(Path.Combine(Directory, "sotu-1790-excerpt.txt"));

    /// <summary>A 320-id byte-level BPE trained on <see cref="Text"/> (id 0 is &lt;|endoftext|&gt;).</summary>
    public static Tokenizer Tokenizer => SmallTokenizer.Value;

    /// <summary>A tiny model config (L1, d32, 2 heads) with the tokenizer's vocabulary.</summary>
    public static TokenFormerConfig TinyConfig() => new()
    {
        NumLayers = 1, HiddenSize = 32, NumAttentionHeads = 2, QkvSlotNum = 32, ProjSlotNum = 32, FfnSlotNum = 64,
        MaxPositionEmbeddings = 64, VocabSize = Tokenizer.VocabSize,
    };

    /// <summary>A fresh empty folder (<see cref="TempFolders.Create"/>).</summary>
    public static string TempDir(string name) => TempFolders.Create(name);
}
