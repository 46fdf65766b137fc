using System.Globalization;
using System.Text.Json;

namespace TokenFormer.Model.Import;

/// <summary>
/// Builds a <see cref="TokenFormerConfig"/> from the configs the official TokenFormer releases come with: the Hub
/// <c>config.json</c> (the NeoX fields plus <c>architectures</c>/<c>torch_dtype</c>), the official YAML configs
/// (<c>configs/tokenformer/*.yml</c>, comments included) and this project's own config.json. Keys are matched
/// with '-' read as '_' (as NeoX does). Training-only fields are ignored; architecture fields this implementation
/// does not support (another <c>pos_emb</c>, <c>norm</c>, <c>final_norm</c>, untied embeddings, GPT-J residual,
/// attention biases, non-TokenFormer attention) are refused with a message naming the field.
/// Absent optional fields take the GPT-NeoX defaults (rotary_pct 1.0, rotary_emb_base 10000, layernorm_epsilon 1e-5,
/// max_position_embeddings = seq_length).
/// </summary>
public static class OfficialConfigReader
{
    /// <summary>Reads a .json, .yml or .yaml config file (by extension; otherwise by content).</summary>
    public static TokenFormerConfig Load(string path)
    {
        if (!File.Exists(path)) throw new TokenFormerConfigException($"{path}: file not found");
        string text = File.ReadAllText(path);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        bool yaml = ext is ".yml" or ".yaml" || (ext != ".json" && !LooksLikeJson(text));
        return yaml ? FromYaml(text, path) : FromJson(text, path);
    }

    /// <summary>Parses config.json text.</summary>
    public static TokenFormerConfig FromJson(string json, string source = "config.json")
    {
        object? root;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            root = Convert(doc.RootElement);
        }
        catch (JsonException e) { throw new TokenFormerConfigException($"{source}: not valid JSON ({e.Message})"); }
        return FromFields(root, source);
    }

    /// <summary>Parses official YAML config text.</summary>
    public static TokenFormerConfig FromYaml(string yaml, string source = "config.yml") =>
        FromFields(YamlSubsetReader.Parse(yaml, source), source);

    private static bool LooksLikeJson(string text)
    {
        try { using var _ = JsonDocument.Parse(text); return true; }
        catch (JsonException) { return false; }
    }

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

    /// <summary>Maps a parsed mapping of official fields to a validated config (vocab_size left null unless given).</summary>
    public static TokenFormerConfig FromFields(object? root, string source)
    {
        if (root is not Dictionary<string, object?> raw) throw new TokenFormerConfigException($"{source}: expected a mapping of config fields at the top level");
        var f = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in raw) f[k.Replace('-', '_')] = v;

        int Int(string name, int? fallback = null)
        {
            if (!f.TryGetValue(name, out object? v) || v == null)
                return fallback ?? throw new TokenFormerConfigException($"{source}: required field '{name}' is missing");
            if (v is long l && l >= int.MinValue && l <= int.MaxValue) return (int)l;
            if (v is double d && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
            throw new TokenFormerConfigException($"{source}: field '{name}' must be an integer (got {Show(v)})");
        }
        double Num(string name, double fallback)
        {
            if (!f.TryGetValue(name, out object? v) || v == null) return fallback;
            return v switch
            {
                long l => l,
                double d => d,
                string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) => p,
                _ => throw new TokenFormerConfigException($"{source}: field '{name}' must be a number (got {Show(v)})"),
            };
        }
        double? OptNum(string name) => f.TryGetValue(name, out object? v) && v != null ? Num(name, 0) : null;
        void Require(string name, object expected, string why)
        {
            if (!f.TryGetValue(name, out object? v) || v == null) return;
            if (!Equals(v, expected))
                throw new TokenFormerConfigException($"{source}: field '{name}' is {Show(v)}; only {Show(expected)} is supported ({why})");
        }

        Require("pos_emb", "rotary", "the released TokenFormer models use partial rotary embeddings");
        Require("norm", "layernorm_nonparam", "per-layer norms of the released models are non-parametric LayerNorms");
        Require("final_norm", "layernorm", "the released models end with an affine LayerNorm");
        Require("no_weight_tying", false, "input and output embeddings are tied");
        Require("gpt_j_residual", false, "the released models use the sequential residual");
        Require("use_bias_in_attn_linear", false, "the released models have no biases");
        if (f.TryGetValue("attention_config", out object? att) && att != null)
            foreach (string s in Strings(att))
                if (s != "tokenformer")
                    throw new TokenFormerConfigException($"{source}: attention_config names '{s}'; only 'tokenformer' layers are supported");

        int seqLength = Int("seq_length", 2048);
        var c = new TokenFormerConfig
        {
            NumLayers = Int("num_layers"),
            HiddenSize = Int("hidden_size"),
            NumAttentionHeads = Int("num_attention_heads"),
            QkvSlotNum = Int("qkv_slot_num"),
            ProjSlotNum = Int("proj_slot_num"),
            FfnSlotNum = Int("ffn_slot_num"),
            NormActivationType = f.TryGetValue("norm_activation_type", out object? act) && act != null
                ? act as string ?? throw new TokenFormerConfigException($"{source}: field 'norm_activation_type' must be a string (got {Show(act)})")
                : "l2_norm_gelu",
            RotaryPct = Num("rotary_pct", 1.0),
            RotaryEmbBase = Num("rotary_emb_base", 10000),
            LayerNormEpsilon = Num("layernorm_epsilon", 1e-5),
            MaxPositionEmbeddings = Int("max_position_embeddings", seqLength),
            VocabSize = f.TryGetValue("vocab_size", out object? vs) && vs != null ? Int("vocab_size") : null,
            PattentionScaleQkv = OptNum("pattention_scale_qkv"),
            PattentionScaleProj = OptNum("pattention_scale_proj"),
            PattentionScaleFfn = OptNum("pattention_scale_ffn"),
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
        _ => v.GetType().Name,
    };
}
