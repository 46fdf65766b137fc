using System.Text;

namespace TokenFormer.Text.Tests;

/// <summary>Arbitrary input never crashes encoding; valid text round-trips; Save/Load keep ids and hash.</summary>
public sealed class RobustnessTests
{
    private static readonly Lazy<Tokenizer> Gpt2 = new(() => Fixtures.LoadGzipTokenizer("gpt2-tokenizer.json.gz"));
    private static readonly Lazy<Tokenizer> Trained = new(() => Fixtures.LoadGzipTokenizer("trained-tokenizer.json.gz"));

    [Fact]
    public void RandomBytesNeverCrashEncoding()
    {
        var random = new Random(1234);
        foreach (Tokenizer t in new[] { Gpt2.Value, Trained.Value })
        {
            for (int trial = 0; trial < 2000; trial++)
            {
                byte[] bytes = new byte[random.Next(0, 400)];
                random.NextBytes(bytes);
                string text = Encoding.UTF8.GetString(bytes); // invalid sequences become U+FFFD
                int[] ids = t.Encode(bytes);
                Assert.Equal(t.Encode(text), ids);
                Assert.Equal(text, t.Decode(ids));
            }
        }
    }

    [Fact]
    public void LoneSurrogatesEncodeAsReplacementCharacter()
    {
        Tokenizer t = Gpt2.Value;
        string text = "a\uD800b\uDC00c\uD83D";
        Assert.Equal("a\uFFFDb\uFFFDc\uFFFD", t.Decode(t.Encode(text)));
    }

    [Fact]
    public void RandomValidTextRoundTrips()
    {
        var random = new Random(99);
        var sb = new StringBuilder();
        foreach (Tokenizer t in new[] { Gpt2.Value, Trained.Value })
        {
            for (int trial = 0; trial < 2000; trial++)
            {
                sb.Clear();
                int n = random.Next(0, 60);
                for (int i = 0; i < n; i++)
                {
                    int cp = random.Next(4) switch
                    {
                        0 => random.Next(0, 0x80),
                        1 => random.Next(0x80, 0x800),
                        2 => random.Next(0x800, 0x10000),
                        _ => random.Next(0x10000, 0x110000),
                    };
                    if (cp is >= 0xD800 and <= 0xDFFF) cp = ' ';
                    sb.Append(char.ConvertFromUtf32(cp));
                    if (random.Next(5) == 0) sb.Append(random.Next(3) switch { 0 => " ", 1 => "\n", _ => "<|endoftext|>" });
                }
                string text = sb.ToString();
                Assert.Equal(text, t.Decode(t.Encode(text)));
            }
        }
    }

    [Fact]
    public void HugeWordAndEmptyInput()
    {
        Tokenizer t = Gpt2.Value;
        Assert.Empty(t.Encode(""));
        string big = new('x', 200_000);
        Assert.Equal(big, t.Decode(t.Encode(big)));
        string spaces = new(' ', 100_000);
        Assert.Equal(spaces, t.Decode(t.Encode(spaces)));
    }

    [Fact]
    public void SaveAndLoadKeepIdsAndHash()
    {
        foreach (Tokenizer t in new[] { Gpt2.Value, Trained.Value })
        {
            string path = Path.Combine(Path.GetTempPath(), $"tok-{Guid.NewGuid():N}.json");
            try
            {
                t.Save(path);
                Tokenizer again = Tokenizer.Load(path);
                Assert.Equal(t.ContentHash, again.ContentHash);
                Assert.Equal(t.VocabSize, again.VocabSize);
                foreach (string line in Fixtures.Corpus().Take(500)) Assert.Equal(t.Encode(line), again.Encode(line));
            }
            finally
            {
                File.Delete(path);
            }
        }
    }

    [Fact]
    public void VocabularyAccessors()
    {
        Tokenizer t = Gpt2.Value;
        Assert.Equal(50257, t.VocabSize);
        Assert.Equal(50256, t.EndOfTextId);
        Assert.Equal("Ġthe", t.IdToToken(t.TokenToId("Ġthe")!.Value));
        Assert.True(t.IsSpecial(50256));
        Assert.Equal("", t.Decode([50256], skipSpecialTokens: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Decode([50257]));
        Assert.Equal([50256], t.Encode("<|endoftext|>"));
    }
}
