using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TokenFormer.Core.IO;

namespace TokenFormer.Text;

/// <summary>
/// Reads and writes Hugging Face's tokenizer.json for the supported subset: model BPE; ByteLevel pre-tokenizer,
/// post-processor and decoder; NFC/NFKC/NFD/NFKD (or a Sequence of them) or no normaliser; added tokens.
/// Anything else fails with a <see cref="TokenizerFormatException"/> naming the field.
/// </summary>
internal static class TokenizerJson
{
    public static Tokenizer Read(string json, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"{source}: not valid JSON: {e.Message}");
        }
        if (JsonStrings.FirstUndecodable(json) is { } bad)
        {
            doc.Dispose();
            throw new TokenizerFormatException($"{source}: {JsonStrings.Describe(bad)}");
        }
        using (doc)
        {
            var r = new Reader(source);
            JsonElement root = doc.RootElement;
            r.Expect(root, JsonValueKind.Object, "(root)");
            foreach (string field in new[] { "truncation", "padding" })
                if (root.TryGetProperty(field, out JsonElement v) && v.ValueKind != JsonValueKind.Null)
                    throw r.Error(field, "unsupported (only null is supported)");

            var added = new List<AddedToken>();
            if (root.TryGetProperty("added_tokens", out JsonElement addedJson) && addedJson.ValueKind != JsonValueKind.Null)
            {
                r.Expect(addedJson, JsonValueKind.Array, "added_tokens");
                int i = 0;
                foreach (JsonElement t in addedJson.EnumerateArray())
                {
                    string f = $"added_tokens[{i++}]";
                    r.Expect(t, JsonValueKind.Object, f);
                    bool special = r.Bool(t, "special", f, false);
                    added.Add(new AddedToken(
                        Id: r.NonNegativeInt(r.Required(t, "id", f), f + ".id"),
                        Content: r.String(r.Required(t, "content", f), f + ".content"),
                        Special: special,
                        Normalized: r.Bool(t, "normalized", f, !special),
                        SingleWord: r.Bool(t, "single_word", f, false),
                        LeftStrip: r.Bool(t, "lstrip", f, false),
                        RightStrip: r.Bool(t, "rstrip", f, false)));
                }
            }

            var normalizers = new List<UnicodeNormalizer>();
            if (root.TryGetProperty("normalizer", out JsonElement norm)) ReadNormalizer(r, norm, "normalizer", normalizers);

            JsonElement pre = r.Required(root, "pre_tokenizer", "(root)");
            if (pre.ValueKind == JsonValueKind.Null)
                throw r.Error("pre_tokenizer", "null is unsupported (expected a ByteLevel pre-tokenizer)");
            ByteLevelOptions preTokenizer = ReadByteLevel(r, pre, "pre_tokenizer", allowSequence: true)!;
            ByteLevelOptions? post = root.TryGetProperty("post_processor", out JsonElement pp) ? ReadByteLevel(r, pp, "post_processor", false) : null;
            ByteLevelOptions? decoder = root.TryGetProperty("decoder", out JsonElement dec) ? ReadByteLevel(r, dec, "decoder", false) : null;

            BpeModel model = ReadModel(r, r.Required(root, "model", "(root)"));
            try
            {
                return new Tokenizer(model, added, normalizers, preTokenizer, post, decoder);
            }
            catch (TokenizerFormatException e)
            {
                throw new TokenizerFormatException($"{source}: {e.Message}");
            }
        }
    }

    private static void ReadNormalizer(Reader r, JsonElement e, string field, List<UnicodeNormalizer> output)
    {
        if (e.ValueKind == JsonValueKind.Null) return;
        r.Expect(e, JsonValueKind.Object, field);
        string type = r.String(r.Required(e, "type", field), field + ".type");
        NormalizationForm? form = type switch
        {
            "NFC" => NormalizationForm.FormC,
            "NFKC" => NormalizationForm.FormKC,
            "NFD" => NormalizationForm.FormD,
            "NFKD" => NormalizationForm.FormKD,
            _ => null,
        };
        if (form is { } f)
        {
            try
            {
                output.Add(UnicodeNormalizer.Create(f));
            }
            catch (PlatformNotSupportedException ex)
            {
                throw r.Error(field + ".type", $"'{type}' cannot run here: {ex.Message}");
            }
            return;
        }
        if (type == "Sequence")
        {
            JsonElement list = r.Required(e, "normalizers", field);
            r.Expect(list, JsonValueKind.Array, field + ".normalizers");
            int i = 0;
            foreach (JsonElement item in list.EnumerateArray()) ReadNormalizer(r, item, $"{field}.normalizers[{i++}]", output);
            return;
        }
        throw r.Error(field + ".type", $"unsupported normalizer '{type}' (supported: NFC, NFKC, NFD, NFKD, a Sequence of them, or null)");
    }

    private static ByteLevelOptions? ReadByteLevel(Reader r, JsonElement e, string field, bool allowSequence)
    {
        if (e.ValueKind == JsonValueKind.Null) return null;
        r.Expect(e, JsonValueKind.Object, field);
        string type = r.String(r.Required(e, "type", field), field + ".type");
        if (type == "Sequence" && allowSequence)
        {
            string listName = "pretokenizers";
            JsonElement list = r.Required(e, listName, field);
            r.Expect(list, JsonValueKind.Array, $"{field}.{listName}");
            if (list.GetArrayLength() != 1)
                throw r.Error($"{field}.{listName}", "unsupported: only a Sequence holding exactly one ByteLevel pre-tokenizer is supported");
            return ReadByteLevel(r, list[0], $"{field}.{listName}[0]", false);
        }
        if (type != "ByteLevel")
            throw r.Error(field + ".type", $"unsupported {field.Replace('_', '-')} '{type}' (supported: ByteLevel{(field == "pre_tokenizer" ? "" : " or null")})");
        return new ByteLevelOptions(
            AddPrefixSpace: r.Bool(e, "add_prefix_space", field, true),
            TrimOffsets: r.Bool(e, "trim_offsets", field, true),
            UseRegex: r.Bool(e, "use_regex", field, true));
    }

    private static BpeModel ReadModel(Reader r, JsonElement m)
    {
        r.Expect(m, JsonValueKind.Object, "model");
        if (m.TryGetProperty("type", out JsonElement typeJson))
        {
            string type = r.String(typeJson, "model.type");
            if (type != "BPE") throw r.Error("model.type", $"unsupported model '{type}' (supported: BPE)");
        }
        if (m.TryGetProperty("dropout", out JsonElement dropout) && dropout.ValueKind != JsonValueKind.Null)
            throw r.Error("model.dropout", "unsupported (only null is supported: encoding must be deterministic)");
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (m.TryGetProperty(affix, out JsonElement a) && a.ValueKind != JsonValueKind.Null &&
                !(a.ValueKind == JsonValueKind.String && a.GetString()!.Length == 0))
                throw r.Error("model." + affix, "unsupported (only null is supported)");
        if (r.Bool(m, "byte_fallback", "model", false))
            throw r.Error("model.byte_fallback", "unsupported value true (byte-level BPE needs no byte fallback)");
        string? unk = m.TryGetProperty("unk_token", out JsonElement unkJson) && unkJson.ValueKind != JsonValueKind.Null
            ? r.String(unkJson, "model.unk_token") : null;
        bool fuseUnk = r.Bool(m, "fuse_unk", "model", false);
        bool ignoreMerges = r.Bool(m, "ignore_merges", "model", false);

        JsonElement vocabJson = r.Required(m, "vocab", "model");
        r.Expect(vocabJson, JsonValueKind.Object, "model.vocab");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty p in vocabJson.EnumerateObject())
            vocab[p.Name] = r.NonNegativeInt(p.Value, $"model.vocab[\"{p.Name}\"]");

        var merges = new List<(string, string)>();
        JsonElement mergesJson = r.Required(m, "merges", "model");
        r.Expect(mergesJson, JsonValueKind.Array, "model.merges");
        int i = 0;
        foreach (JsonElement merge in mergesJson.EnumerateArray())
        {
            string f = $"model.merges[{i++}]";
            if (merge.ValueKind == JsonValueKind.String)
            {
                string s = merge.GetString()!;
                int space = s.IndexOf(' ');
                if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0)
                    throw r.Error(f, $"expected \"LEFT RIGHT\" (two tokens separated by one space), got \"{s}\"");
                merges.Add((s[..space], s[(space + 1)..]));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
                merges.Add((r.String(merge[0], f + "[0]"), r.String(merge[1], f + "[1]")));
            else
                throw r.Error(f, $"expected a string \"LEFT RIGHT\" or an array [LEFT, RIGHT], got {Describe(merge)}");
        }
        try
        {
            return new BpeModel(vocab, merges, unk, fuseUnk, ignoreMerges);
        }
        catch (TokenizerFormatException e)
        {
            throw new TokenizerFormatException($"{r.Source}: {e.Message}");
        }
    }

    private static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => $"an array of {e.GetArrayLength()}",
        JsonValueKind.String => $"the string \"{e.GetString()}\"",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };

    /// <summary>Field access with error messages that name the source and the field.</summary>
    private sealed class Reader(string source)
    {
        public string Source => source;

        public TokenizerFormatException Error(string field, string message) => new($"{source}: {field}: {message}");

        public void Expect(JsonElement e, JsonValueKind kind, string field)
        {
            if (e.ValueKind != kind)
                throw Error(field, $"expected {(kind == JsonValueKind.Object ? "an object" : kind == JsonValueKind.Array ? "an array" : kind.ToString().ToLowerInvariant())}, got {Describe(e)}");
        }

        public JsonElement Required(JsonElement obj, string name, string parent) =>
            obj.TryGetProperty(name, out JsonElement v) ? v
                : throw Error(parent == "(root)" ? name : $"{parent}.{name}", "missing");

        public string String(JsonElement e, string field) =>
            e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Error(field, $"expected a string, got {Describe(e)}");

        public int NonNegativeInt(JsonElement e, string field) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) && v >= 0 ? v
                : throw Error(field, $"expected a non-negative integer id, got {Describe(e)}");

        public bool Bool(JsonElement obj, string name, string parent, bool fallback)
        {
            if (!obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null) return fallback;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error($"{parent}.{name}", $"expected true or false, got {Describe(v)}"),
            };
        }
    }

    /// <summary>Serialises <paramref name="t"/> in Hugging Face's field order (UTF-8 bytes).</summary>
    public static byte[] Write(Tokenizer t, bool indented)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            foreach (AddedToken a in t.AddedTokens)
            {
                w.WriteStartObject();
                w.WriteNumber("id", a.Id);
                w.WriteString("content", a.Content);
                w.WriteBoolean("single_word", a.SingleWord);
                w.WriteBoolean("lstrip", a.LeftStrip);
                w.WriteBoolean("rstrip", a.RightStrip);
                w.WriteBoolean("normalized", a.Normalized);
                w.WriteBoolean("special", a.Special);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("normalizer");
            if (t.Normalizers.Count == 0) w.WriteNullValue();
            else if (t.Normalizers.Count == 1) WriteNormalizer(w, t.Normalizers[0]);
            else
            {
                w.WriteStartObject();
                w.WriteString("type", "Sequence");
                w.WriteStartArray("normalizers");
                foreach (UnicodeNormalizer n in t.Normalizers) WriteNormalizer(w, n);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            WriteByteLevel(w, "pre_tokenizer", t.PreTokenizer);
            WriteByteLevel(w, "post_processor", t.PostProcessor);
            WriteByteLevel(w, "decoder", t.Decoder);
            w.WriteStartObject("model");
            BpeModel m = t.Model;
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            if (m.UnknownToken is null) w.WriteNull("unk_token");
            else w.WriteString("unk_token", m.UnknownToken);
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", m.FuseUnknown);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", m.IgnoreMerges);
            w.WriteStartObject("vocab");
            foreach (var (token, id) in m.Vocab.OrderBy(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)) w.WriteNumber(token, id);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            // "LEFT RIGHT" strings load in every tokenizers version; pairs are needed only when a token has a space.
            bool pairs = m.MergeList.Any(p => p.Left.Contains(' ') || p.Right.Contains(' '));
            foreach (var (left, right) in m.MergeList)
            {
                if (!pairs)
                {
                    w.WriteStringValue(left + " " + right);
                    continue;
                }
                w.WriteStartArray();
                w.WriteStringValue(left);
                w.WriteStringValue(right);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteNormalizer(Utf8JsonWriter w, UnicodeNormalizer n)
    {
        w.WriteStartObject();
        w.WriteString("type", n.Name);
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string name, ByteLevelOptions? o)
    {
        if (o is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", o.AddPrefixSpace);
        w.WriteBoolean("trim_offsets", o.TrimOffsets);
        w.WriteBoolean("use_regex", o.UseRegex);
        w.WriteEndObject();
    }
}
