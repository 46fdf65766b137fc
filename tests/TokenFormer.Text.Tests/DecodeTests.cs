using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace TokenFormer.Text.Tests;

/// <summary>Our Decode against Hugging Face's on random GPT-2 id sequences (invalid UTF-8 → U+FFFD included).</summary>
public sealed class DecodeTests(ITestOutputHelper output)
{
    [Fact]
    public void DecodeMatchesHuggingFace()
    {
        Tokenizer t = Fixtures.LoadGzipTokenizer("gpt2-tokenizer.json.gz");
        int count = 0, withReplacement = 0;
        foreach (string line in Fixtures.ReadGzipText("decode-gpt2.jsonl.gz").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            JsonObject o = JsonNode.Parse(line)!.AsObject();
            int[] ids = o["ids"]!.AsArray().Select(x => (int)x!).ToArray();
            string expected = (string)o["text"]!;
            Assert.Equal(expected, t.Decode(ids, skipSpecialTokens: (bool)o["skip"]!));
            count++;
            if (expected.Contains('\uFFFD')) withReplacement++;
        }
        output.WriteLine($"{count} sequences, {withReplacement} with U+FFFD");
        Assert.True(count == 3000 && withReplacement > 500, $"{count} sequences, {withReplacement} with U+FFFD");
    }
}
