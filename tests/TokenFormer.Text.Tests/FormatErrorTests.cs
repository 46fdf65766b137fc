using System.Text.Json.Nodes;

namespace TokenFormer.Text.Tests;

/// <summary>A malformed or unsupported tokenizer.json fails with a message that names the field.</summary>
public sealed class FormatErrorTests
{
    private static JsonObject Minimal() => JsonNode.Parse("""
        {
          "version": "1.0", "truncation": null, "padding": null,
          "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true, "normalized": false}],
          "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
          "post_processor": null,
          "decoder": {"type": "ByteLevel"},
          "model": {"type": "BPE", "dropout": null, "unk_token": null, "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
        }
        """)!.AsObject();

    [Fact]
    public void MinimalDocumentLoads()
    {
        Tokenizer t = Tokenizer.FromJson(Minimal().ToJsonString());
        Assert.Equal([2, 3], t.Encode("ab<|endoftext|>"));
        Assert.Equal(4, t.VocabSize);
    }

    public static TheoryData<string, string, string> Cases => new()
    {
        { "model.type", "\"WordPiece\"", "model.type: unsupported model 'WordPiece'" },
        { "pre_tokenizer", """{"type": "Whitespace"}""", "pre_tokenizer.type: unsupported pre-tokenizer 'Whitespace'" },
        { "pre_tokenizer", "null", "pre_tokenizer: null is unsupported" },
        { "normalizer", """{"type": "Lowercase"}""", "normalizer.type: unsupported normalizer 'Lowercase'" },
        { "decoder", """{"type": "WordPiece"}""", "decoder.type: unsupported decoder 'WordPiece'" },
        { "post_processor", """{"type": "TemplateProcessing"}""", "post_processor.type: unsupported post-processor 'TemplateProcessing'" },
        { "truncation", """{"max_length": 5}""", "truncation: unsupported" },
        { "model.dropout", "0.1", "model.dropout: unsupported" },
        { "model.byte_fallback", "true", "model.byte_fallback: unsupported" },
        { "model.vocab", "[]", "model.vocab: expected an object, got an array of 0" },
        { "model.vocab", """{"a": -1}""", "model.vocab[\"a\"]: expected a non-negative integer id" },
        { "model.merges", """["a b c"]""", "model.merges[0]: expected \"LEFT RIGHT\"" },
        { "model.merges", """["a c"]""", "model.merges[0]: token 'c' is not in model.vocab" },
        { "model.merges", """[["b", "a"]]""", "model.merges[0]: merged token 'ba' is not in model.vocab" },
        { "model.merges", "[7]", "model.merges[0]: expected a string \"LEFT RIGHT\" or an array [LEFT, RIGHT], got the number 7" },
        { "model.unk_token", "\"<unk>\"", "model.unk_token: '<unk>' is not in model.vocab" },
        { "added_tokens", """[{"content": "x"}]""", "added_tokens[0].id: missing" },
        { "added_tokens", """[{"id": 5, "content": 5}]""", "added_tokens[0].content: expected a string, got the number 5" },
        { "pre_tokenizer.add_prefix_space", "\"yes\"", "pre_tokenizer.add_prefix_space: expected true or false" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ErrorNamesTheField(string field, string value, string expected)
    {
        JsonObject doc = Minimal();
        string[] path = field.Split('.');
        JsonObject parent = doc;
        foreach (string p in path[..^1]) parent = parent[p]!.AsObject();
        parent[path[^1]] = JsonNode.Parse(value);
        var e = Assert.Throws<TokenizerFormatException>(() => Tokenizer.FromJson(doc.ToJsonString(), "t.json"));
        Assert.Contains("t.json: " + expected, e.Message);
    }

    [Fact]
    public void MissingModelAndInvalidJson()
    {
        JsonObject doc = Minimal();
        doc.Remove("model");
        Assert.Contains("t.json: model: missing", Assert.Throws<TokenizerFormatException>(() => Tokenizer.FromJson(doc.ToJsonString(), "t.json")).Message);
        Assert.Contains("t.json: not valid JSON", Assert.Throws<TokenizerFormatException>(() => Tokenizer.FromJson("{\"model\": ", "t.json")).Message);
        Assert.Contains("(root): expected an object", Assert.Throws<TokenizerFormatException>(() => Tokenizer.FromJson("[1]", "t.json")).Message);
    }

    [Fact]
    public void PairMergesAndNormalizersLoad()
    {
        JsonObject doc = Minimal();
        doc["model"]!["merges"] = JsonNode.Parse("""[["a", "b"]]""");
        doc["normalizer"] = JsonNode.Parse("""{"type": "Sequence", "normalizers": [{"type": "NFKC"}]}""");
        Tokenizer t = Tokenizer.FromJson(doc.ToJsonString());
        Assert.Equal([2], t.Encode("ab"));
        Assert.Equal("NFKC", Assert.Single(t.Normalizers).Name);
        // NFKC folds the full-width letters to "ab" before BPE.
        Assert.Equal([2], t.Encode("\uFF41\uFF42"));
    }
}
