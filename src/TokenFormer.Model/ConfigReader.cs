using System.Globalization;
using System.Text.Json;
using TokenFormer.Core.IO;
using TokenFormer.Model.Import;

namespace TokenFormer.Model;

/// <summary>
/// The one config reader: a model directory's config.json (<see cref="TokenFormerConfig.Load"/>), a release's
/// config.json and the official NeoX YAML configs (<see cref="OfficialConfigReader"/>) all go through
/// <see cref="FromFields"/>, so an absent field means the same everywhere (<see cref="ConfigDefaults.Optional"/>,
/// each assumption recorded in <see cref="TokenFormerConfig.Assumptions"/>) and an official architecture field set
/// to a value this model does not implement (<see cref="ConfigDefaults.FixedFields"/>, attention_config) is refused
/// naming the field. Keys are matched with '-' read as '_' (as NeoX does). Fields the model does not use (training
/// settings, <c>torch_dtype</c>, <c>growth</c>, …) are either kept in <see cref="TokenFormerConfig.Extra"/> (model
/// directories: written back unchanged) or dropped (imports: the release's training settings do not describe the
/// imported model directory).
/// </summary>
public static class ConfigReader
{
    /// <summary>The config.json names of the fields <see cref="TokenFormerConfig"/> holds as properties, in file order.</summary>
    public static IReadOnlyList<string> ModelFieldOrder { get; } =
    [
        "num_layers", "hidden_size", "num_attention_heads", "qkv_slot_num", "proj_slot_num", "ffn_slot_num",
        "norm_activation_type", "rotary_pct", "rotary_emb_base", "layernorm_epsilon", "max_position_embeddings",
        "vocab_size", "pattention_scale_qkv", "pattention_scale_proj", "pattention_scale_ffn",
    ];

    /// <summary><see cref="ModelFieldOrder"/> as a set.</summary>
    public static IReadOnlySet<string> ModelFields { get; } = new HashSet<string>(ModelFieldOrder, StringComparer.Ordinal);

    /// <summary>Reads a .json, .yml or .yaml config file (by extension; otherwise by content); errors name the file.</summary>
    public static TokenFormerConfig Load(string path, bool keepUnknownFields)
    {
        if (!File.Exists(path)) throw new TokenFormerConfigException($"{path}: file not found");
        string text = File.ReadAllText(path);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        bool yaml = ext is ".yml" or ".yaml" || (ext != ".json" && !LooksLikeJson(text));
        return yaml ? FromYaml(text, path, keepUnknownFields) : FromJson(text, path, keepUnknownFields);
    }

    /// <summary>Parses and validates config.json text; <paramref name="source"/> prefixes every error.</summary>
    public static TokenFormerConfig FromJson(string json, string source, bool keepUnknownFields)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new TokenFormerConfigException($"{source}: expected a JSON object of config fields at the top level");
            if (JsonStrings.FirstUndecodable(json) is { } bad) throw new TokenFormerConfigException($"{source}: {JsonStrings.Describe(bad)}");
            TokenFormerConfig c = FromFields(Convert(doc.RootElement), source);
            if (keepUnknownFields)
                foreach (JsonProperty p in doc.RootElement.EnumerateObject())
                    if (!ModelFields.Contains(Normalise(p.Name)))
                        (c.Extra ??= [])[p.Name] = p.Value.Clone();
            return c;
        }
        catch (JsonException e) { throw new TokenFormerConfigException($"{source}: not valid JSON ({e.Message})"); }
    }

    /// <summary>Parses and validates official YAML config text (the subset <see cref="YamlSubsetReader"/> reads).</summary>
    public static TokenFormerConfig FromYaml(string yaml, string source, bool keepUnknownFields)
    {
        object? root = YamlSubsetReader.Parse(yaml, source);
        TokenFormerConfig c = FromFields(root, source);
        if (keepUnknownFields && root is Dictionary<string, object?> fields)
            foreach (var (key, value) in fields)
                if (!ModelFields.Contains(Normalise(key)))
                    (c.Extra ??= [])[key] = JsonSerializer.SerializeToElement(value, ExtraFieldOptions);
        return c;
    }

    // YAML has .nan and .inf, JSON has no such numbers: an unknown field holding one is kept as the string "NaN" or
    // "Infinity" instead of failing the whole config (docs/reliability.md, Fuzzing).
    private static readonly JsonSerializerOptions ExtraFieldOptions =
        new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static bool LooksLikeJson(string text)
    {
        try { using var _ = JsonDocument.Parse(text); return true; }
        catch (JsonException) { return false; }
    }

    private static string Normalise(string key) => key.Replace('-', '_');

    private static object? Convert(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Aggregate(new Dictionary<string, object?>(), (d, p) => { d[p.Name] = Convert(p.Value); return d; }),
        JsonValueKind.Array => e.EnumerateArray().Select(Convert).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    /// <summary>
    /// Maps a parsed mapping of config fields (string keys; long, double, string, bool, list, mapping or null values)
    /// to a validated config: absent optional fields take <see cref="ConfigDefaults"/> (recorded in
    /// <see cref="TokenFormerConfig.Assumptions"/>), unimplemented architecture values are refused. vocab_size stays
    /// null unless given. Unknown fields are not kept (the JSON and YAML front ends keep them when asked).
    /// </summary>
    public static TokenFormerConfig FromFields(object? root, string source)
    {
        if (root is not Dictionary<string, object?> raw) throw new TokenFormerConfigException($"{source}: expected a mapping of config fields at the top level");
        var f = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in raw) f[Normalise(k)] = v;
        var assumed = new List<string>();

        bool Has(string name) => f.TryGetValue(name, out object? v) && v != null;
        int Int(string name)
        {
            if (!f.TryGetValue(name, out object? v) || v == null) throw new TokenFormerConfigException($"{source}: required field '{name}' is missing");
            if (v is long l && l >= int.MinValue && l <= int.MaxValue) return (int)l;
            if (v is double d && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
            if (v is string s && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int p)) return p;
            throw new TokenFormerConfigException($"{source}: field '{name}' must be an integer (got {Show(v)})");
        }
        double Num(string name) => f[name] switch
        {
            long l => l,
            double d => d,
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) => p,
            object v => throw new TokenFormerConfigException($"{source}: field '{name}' must be a number (got {Show(v)})"),
            null => throw new TokenFormerConfigException($"{source}: field '{name}' must be a number (got null)"),
        };
        string Str(string name) => f[name] as string
            ?? throw new TokenFormerConfigException($"{source}: field '{name}' must be a string (got {Show(f[name])})");
        T Optional<T>(string name, Func<string, T> read)
        {
            if (Has(name)) return read(name);
            ConfigDefaults.Assumed a = ConfigDefaults.Optional.Single(o => o.Field == name);
            assumed.Add($"{source}: {name} is absent; assumed {Show(a.Value)} ({a.Reason})");
            return (T)a.Value;
        }

        foreach (ConfigDefaults.Fixed x in ConfigDefaults.FixedFields)
        {
            if (!Has(x.Field)) continue;
            object v = f[x.Field]!;
            if (!Equals(v, x.Implemented))
                throw new TokenFormerConfigException(x.Implemented == null
                    ? $"{source}: field '{x.Field}' is {Show(v)}; this model does not implement it, so it must be absent or null ({x.Why})"
                    : $"{source}: field '{x.Field}' is {Show(v)}; only {Show(x.Implemented)} is supported ({x.Why})");
        }
        if (Has("attention_config"))
            foreach (string s in Strings(f["attention_config"]))
                if (s != "tokenformer")
                    throw new TokenFormerConfigException($"{source}: attention_config names '{s}'; only 'tokenformer' layers are supported");

        int maxPos;
        if (Has("max_position_embeddings")) maxPos = Int("max_position_embeddings");
        else if (Has("seq_length"))
        {
            maxPos = Int("seq_length");
            assumed.Add($"{source}: max_position_embeddings is absent; assumed seq_length {maxPos.ToString(CultureInfo.InvariantCulture)}");
        }
        else maxPos = Optional("max_position_embeddings", Int);

        var c = new TokenFormerConfig
        {
            NumLayers = Int("num_layers"),
            HiddenSize = Int("hidden_size"),
            NumAttentionHeads = Int("num_attention_heads"),
            QkvSlotNum = Int("qkv_slot_num"),
            ProjSlotNum = Int("proj_slot_num"),
            FfnSlotNum = Int("ffn_slot_num"),
            NormActivationType = Optional("norm_activation_type", Str),
            RotaryPct = Optional("rotary_pct", Num),
            RotaryEmbBase = Optional("rotary_emb_base", Num),
            LayerNormEpsilon = Optional("layernorm_epsilon", Num),
            MaxPositionEmbeddings = maxPos,
            VocabSize = Has("vocab_size") ? Int("vocab_size") : null,
            PattentionScaleQkv = Has("pattention_scale_qkv") ? Num("pattention_scale_qkv") : null,
            PattentionScaleProj = Has("pattention_scale_proj") ? Num("pattention_scale_proj") : null,
            PattentionScaleFfn = Has("pattention_scale_ffn") ? Num("pattention_scale_ffn") : null,
            Assumptions = assumed,
        };
        try { c.Validate(); }
        catch (TokenFormerConfigException e) { throw new TokenFormerConfigException($"{source}: {e.Message}"); }
        return c;
    }

    private static IEnumerable<string> Strings(object? o)
    {
        if (o is string s) yield return s;
        else if (o is List<object?> list)
            foreach (object? item in list)
                foreach (string x in Strings(item))
                    yield return x;
    }

    private static string Show(object? v) => v switch
    {
        null => "null",
        string s => $"'{s}'",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        _ => v.GetType().Name,
    };
}
