using System.Text;
using Xunit.Abstractions;

namespace TokenFormer.Text.Tests;

/// <summary>
/// Our ids against Hugging Face's (tools/reference/tokenizer/make-fixtures.js, npm package tokenizers) on the
/// golden corpus, for GPT-NeoX-20B's, GPT-2's and a tokenizer our trainer made; and the decode round trip.
/// </summary>
public sealed class GoldenTests(ITestOutputHelper output)
{
    private static readonly Lazy<string[]> Corpus = new(Fixtures.Corpus);

    [Fact]
    public void CorpusIsLargeAndVaried()
    {
        string[] lines = Corpus.Value;
        Assert.True(lines.Length >= 20000, $"{lines.Length} lines");
        Assert.Contains(lines, l => l.Contains(Tokenizer.EndOfTextToken));
        Assert.Contains(lines, l => l.Contains('\t') && l.Contains('\n'));
        Assert.Contains(lines, l => l.Contains("    "));
        Assert.Contains(lines, l => l.Any(c => c >= 0x4E00 && c <= 0x9FFF));
        Assert.Contains(lines, l => l.Any(char.IsSurrogate));
        Assert.Contains(lines, l => l.Contains('é'));
    }

    [Fact]
    public void Gpt2IdsMatchHuggingFace() => Check(Fixtures.LoadGzipTokenizer("gpt2-tokenizer.json.gz"), "gpt2", normalizes: false);

    [Fact]
    public void TrainedTokenizerIdsMatchHuggingFace() =>
        Check(Fixtures.LoadGzipTokenizer("trained-tokenizer.json.gz"), "trained", normalizes: false);

    [Fact]
    public void NeoxIdsMatchHuggingFace()
    {
        if (Fixtures.SkipIfAbsent(Fixtures.NeoxTokenizerPath, "gpt-neox-20b-tokenizer.json", output)) return;
        Check(Tokenizer.Load(Fixtures.NeoxTokenizerPath!), "neox", normalizes: true);
    }

    [Fact]
    public void BatchEncodingEqualsSequentialEncoding()
    {
        Tokenizer t = Fixtures.LoadGzipTokenizer("gpt2-tokenizer.json.gz");
        string[] lines = Corpus.Value[..3000];
        int[][] batch = t.EncodeBatch(lines);
        for (int i = 0; i < lines.Length; i++) Assert.Equal(t.Encode(lines[i]), batch[i]);
    }

    private void Check(Tokenizer tokenizer, string name, bool normalizes)
    {
        string[] lines = Corpus.Value;
        int[][] expected = Fixtures.Ids(name);
        Assert.Equal(lines.Length, expected.Length);
        int[][] actual = tokenizer.EncodeBatch(lines);
        int mismatches = 0, roundTripFailures = 0, normalizedLines = 0;
        var report = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            if (!expected[i].AsSpan().SequenceEqual(actual[i]))
            {
                if (mismatches++ < 5)
                    report.AppendLine($"line {i} {System.Text.Json.JsonSerializer.Serialize(lines[i])}: expected [{string.Join(',', expected[i])}] got [{string.Join(',', actual[i])}]");
            }
            // Lossless for text the normaliser leaves unchanged; otherwise decode gives the normalised text.
            string target = lines[i];
            if (normalizes)
            {
                foreach (UnicodeNormalizer n in tokenizer.Normalizers) target = n.Normalize(target);
                if (target != lines[i]) normalizedLines++;
            }
            if (tokenizer.Decode(actual[i]) != target) roundTripFailures++;
        }
        output.WriteLine($"{name}: {lines.Length} lines, {actual.Sum(a => a.Length)} ids, {mismatches} mismatching lines, " +
                         $"{roundTripFailures} round-trip failures, {normalizedLines} lines changed by the normaliser");
        Assert.True(mismatches == 0, $"{mismatches} lines differ from Hugging Face:\n{report}");
        Assert.Equal(0, roundTripFailures);
    }
}
