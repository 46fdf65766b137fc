using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace TokenFormer.Text.Tests;

/// <summary>
/// GPT-2 variants with NFKC + add_prefix_space + added tokens using lstrip / rstrip / single_word / normalized, and
/// NFC without the split regex; ignore_merges; bytes missing from the vocabulary (dropped, or unk_token with and without
/// fuse_unk) — against Hugging Face's ids (variants.jsonl.gz from make-fixtures.js variants).
/// </summary>
public sealed class VariantTests(ITestOutputHelper output)
{
    public static TheoryData<string> Variants => new()
    {
        "nfkc-prefix-added", "nfc-noregex", "ignore-merges", "unknown-dropped", "unknown-unk", "unknown-fused",
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void IdsMatchHuggingFace(string variant)
    {
        JsonObject entry = Fixtures.ReadGzipText("variants.jsonl.gz").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!.AsObject()).Single(o => (string)o["variant"]! == variant);
        string baseFile = (string)entry["base"]! == "gpt2" ? "gpt2-tokenizer.json.gz" : "hf-default-trained.json.gz";
        JsonObject json = JsonNode.Parse(Fixtures.ReadGzipText(baseFile))!.AsObject();
        foreach (var (field, value) in entry["edits"]!.AsObject()) json[field] = value?.DeepClone();
        foreach (var (field, value) in entry["model_edits"]!.AsObject()) json["model"]![field] = value?.DeepClone();
        foreach (var (token, id) in entry["vocab_additions"]!.AsObject()) json["model"]!["vocab"]![token] = id?.DeepClone();
        Tokenizer t = Tokenizer.FromJson(json.ToJsonString(), variant);

        int corpusLines = (int)entry["corpus_lines"]!;
        string[] texts = [.. Fixtures.Corpus()[..corpusLines], .. entry["crafted"]!.AsArray().Select(n => (string)n!)];
        int[][] expected = entry["ids"]!.AsArray().Select(a => a!.AsArray().Select(x => (int)x!).ToArray()).ToArray();
        Assert.Equal(texts.Length, expected.Length);
        int mismatches = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            int[] actual = t.Encode(texts[i]);
            if (actual.AsSpan().SequenceEqual(expected[i])) continue;
            if (mismatches++ < 5)
                output.WriteLine($"{i} {JsonSerializer.Serialize(texts[i])}: HF [{string.Join(',', expected[i])}] ours [{string.Join(',', actual)}]");
        }
        output.WriteLine($"{variant}: {texts.Length} texts, {mismatches} mismatches");
        Assert.Equal(0, mismatches);
    }
}
