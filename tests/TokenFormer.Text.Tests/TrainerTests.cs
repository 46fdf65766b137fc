using Xunit.Abstractions;

namespace TokenFormer.Text.Tests;

/// <summary>Our BpeTrainer against Hugging Face's BpeTrainer, and its determinism and options.</summary>
public sealed class TrainerTests(ITestOutputHelper output)
{
    [Fact]
    public void DefaultSettingsReproduceHuggingFaceTrainerExactly()
    {
        // hf-default-trained.json.gz: HF's BpeTrainer defaults (vocab 30000, min_frequency 0, no special tokens,
        // no initial alphabet) with ByteLevel(add_prefix_space = false) on train.txt (make-fixtures.js corpus).
        Tokenizer hf = Fixtures.LoadGzipTokenizer("hf-default-trained.json.gz");
        var trainer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = 30000, MinFrequency = 0, SpecialTokens = [], ByteLevelAlphabet = false,
        });
        trainer.AddText(Fixtures.ReadGzipText("train.txt.gz"));
        Tokenizer ours = trainer.Train();
        output.WriteLine($"HF: {hf.Model.Vocab.Count} tokens, {hf.Model.MergeList.Count} merges; ours: {ours.Model.Vocab.Count} tokens, {ours.Model.MergeList.Count} merges");

        Assert.Equal(hf.Model.MergeList.Count, ours.Model.MergeList.Count);
        for (int i = 0; i < hf.Model.MergeList.Count; i++)
            Assert.True(hf.Model.MergeList[i] == ours.Model.MergeList[i], $"merge {i}: HF {hf.Model.MergeList[i]} ours {ours.Model.MergeList[i]}");
        Assert.Equal(hf.Model.Vocab.Count, ours.Model.Vocab.Count);
        foreach (var (token, id) in hf.Model.Vocab) Assert.Equal(id, ours.Model.TokenToId(token));
    }

    [Fact]
    public void TrainingIsDeterministicAndRespectsOptions()
    {
        string text = Fixtures.ReadGzipText("train.txt.gz")[..300_000];
        var options = new BpeTrainerOptions { VocabSize = 1000, SpecialTokens = ["<|endoftext|>", "<|pad|>"] };
        Tokenizer a = Train(text, options), b = Train(text, options);
        Assert.Equal(a.ContentHash, b.ContentHash);
        Assert.Equal(1000, a.VocabSize);
        Assert.Equal(0, a.EndOfTextId);
        Assert.Equal(1, a.TokenToId("<|pad|>"));
        // The 256 byte characters come right after the special tokens, so any text encodes losslessly.
        for (int b8 = 0; b8 < 256; b8++) Assert.NotNull(a.TokenToId(ByteLevelAlphabet.ByteToChar((byte)b8).ToString()));
        Assert.Equal(2 + 256 + a.Model.MergeList.Count, a.VocabSize);
        string sample = "Unseen text: \u0001\u00ff 😀 漢字 <|endoftext|> done";
        Assert.Equal(sample, a.Decode(a.Encode(sample)));
        Assert.Contains(0, a.Encode(sample));

        // A high minimum frequency stops merging early.
        Tokenizer strict = Train(text, options with { MinFrequency = 100_000 });
        Assert.Empty(strict.Model.MergeList);
        Assert.Equal(2 + 256, strict.VocabSize);
    }

    [Fact]
    public void MergeWordRecordsPairChangesLikeHuggingFace()
    {
        // a b a b c with (a, b) -> X: X X c; pairs (b,a) -1, (X,a) +1 then -1, (X,X) +1, (b,c) -1, (X,c) +1.
        int[] s = [1, 2, 1, 2, 3];
        var changes = new List<(long Pair, int Delta)>();
        int n = BpeTrainer.MergeWord(s, 5, 1, 2, 9, changes);
        Assert.Equal([9, 9, 3], s[..n]);
        var net = changes.GroupBy(c => c.Pair).ToDictionary(g => g.Key, g => g.Sum(c => c.Delta));
        Assert.Equal(-1, net[BpeMerges.Key(2, 1)]);
        Assert.Equal(0, net[BpeMerges.Key(9, 1)]);
        Assert.Equal(1, net[BpeMerges.Key(9, 9)]);
        Assert.Equal(-1, net[BpeMerges.Key(2, 3)]);
        Assert.Equal(1, net[BpeMerges.Key(9, 3)]);
    }

    private static Tokenizer Train(string text, BpeTrainerOptions options)
    {
        var trainer = new BpeTrainer(options);
        trainer.AddText(text);
        return trainer.Train();
    }
}
