using System.Text;
using TokenFormer.Text.Data;
using TokenFormer.TestSupport;

namespace TokenFormer.Text.Tests;

/// <summary>
/// Inputs that broke a reader's contract under fuzzing or its review (docs/reliability.md, Fuzzing): each must now end in
/// the format's own error.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static string Tokenizer(string vocab) =>
        "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"vocab\":{" + vocab + "},\"merges\":[]}}";

    [Theory]
    [InlineData(2147483647)] // the id table's size, id + 1, overflowed: System.OverflowException
    [InlineData(100000000)] // an 800 MB id table for a 90-byte file
    public void A_vocabulary_id_far_beyond_the_number_of_entries_is_refused_before_allocating(int id)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TokenizerFormatException>(() => TokenFormer.Text.Tokenizer.FromJson(Tokenizer($"\"a\":{id},\"b\":0"), "t.json"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20);
        Assert.Contains("t.json: model.vocab: token 'a'", e.Message);
        Assert.Contains($"has id {id}, but the vocabulary has only 2 entries", e.Message);
    }

    [Fact]
    public void A_lone_surrogate_escape_is_a_format_error_naming_the_field()
    {
        // valid JSON that System.Text.Json accepts and throws on (InvalidOperationException) only when the string is read
        var e = Assert.Throws<TokenizerFormatException>(() => TokenFormer.Text.Tokenizer.FromJson(Tokenizer("\"a\\ud800\":1,\"b\":0"), "t.json"));
        Assert.StartsWith("t.json: ", e.Message);
        Assert.Contains("a property name holds a \\u escape that is not valid UTF-16", e.Message);
    }

    [Fact]
    public void A_vocabulary_with_a_few_gaps_is_still_read()
    {
        var t = TokenFormer.Text.Tokenizer.FromJson(Tokenizer("\"a\":0,\"b\":1000"), "t.json");
        Assert.Equal("b", t.Model.IdToToken(1000));
    }

    [Theory]
    [InlineData("uint32", 4611686018427387904L)] // 2^62 × 4 bytes wrapped to 0 and matched an empty train.bin
    [InlineData("uint16", -1L)]
    public void A_token_count_that_does_not_match_the_stream_is_a_data_error(string dtype, long tokens)
    {
        string dir = TempFolders.Create("fuzz-token-data");
        File.WriteAllText(Path.Combine(dir, "meta.json"),
            $"{{\"format_version\":1,\"tokenizer_hash\":\"x\",\"vocab_size\":5,\"dtype\":\"{dtype}\",\"train_tokens\":{tokens}}}", Encoding.UTF8);
        File.WriteAllBytes(Path.Combine(dir, "train.bin"), []);
        var e = Assert.Throws<DataFormatException>(() => TokenDataset.Open(dir, "train").Dispose());
        Assert.Contains(tokens < 0 ? "train_tokens is negative" : $"says {tokens} tokens", e.Message);
    }
}
