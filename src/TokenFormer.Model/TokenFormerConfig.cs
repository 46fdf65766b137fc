using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using TokenFormer.Core.IO;

namespace TokenFormer.Model;

/// <summary>
/// Hyper-parameters of a TokenFormer language model, stored as <c>config.json</c> with the official field names
/// (those of the released models' config.json and the official YAML configs). Our additions have their own
/// names: <c>vocab_size</c> (taken from the embedding tensor when absent) and the optional Pattention scale
/// overrides <c>pattention_scale_qkv|proj|ffn</c> (τ; null = √n of that Pattention, as the official code).
/// Unknown fields are kept in <see cref="Extra"/> and written back unchanged. Files are read by
/// <see cref="ConfigReader"/>, the reader every path shares; the initial values here are
/// <see cref="ConfigDefaults"/>, what an absent field means.
/// </summary>
public sealed class TokenFormerConfig
{
    /// <summary>Transformer blocks (depth).</summary>
    [JsonPropertyName("num_layers")] public int NumLayers { get; set; }
    /// <summary>Width d of the residual stream and of every parameter token.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; }
    /// <summary>Attention heads; hidden_size must be divisible by it.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; }
    /// <summary>Parameter tokens n of each query, key and value Pattention.</summary>
    [JsonPropertyName("qkv_slot_num")] public int QkvSlotNum { get; set; }
    /// <summary>Parameter tokens n of the attention output-projection Pattention.</summary>
    [JsonPropertyName("proj_slot_num")] public int ProjSlotNum { get; set; }
    /// <summary>Parameter tokens n of the feed-forward Pattention.</summary>
    [JsonPropertyName("ffn_slot_num")] public int FfnSlotNum { get; set; }
    /// <summary>The Pattention normalisation: l2_norm_gelu, gelu_l2_norm or softmax.</summary>
    [JsonPropertyName("norm_activation_type")] public string NormActivationType { get; set; } = ConfigDefaults.NormActivationType;
    /// <summary>Fraction of each head's dimensions that get rotary position embeddings.</summary>
    [JsonPropertyName("rotary_pct")] public double RotaryPct { get; set; } = ConfigDefaults.RotaryPct;
    /// <summary>Base of the rotary embedding frequencies.</summary>
    [JsonPropertyName("rotary_emb_base")] public double RotaryEmbBase { get; set; } = ConfigDefaults.RotaryEmbBase;
    /// <summary>ε of the (non-parametric and final) LayerNorms.</summary>
    [JsonPropertyName("layernorm_epsilon")] public double LayerNormEpsilon { get; set; } = ConfigDefaults.LayerNormEpsilon;
    /// <summary>Most positions per sequence (the context length).</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = ConfigDefaults.MaxPositionEmbeddings;

    /// <summary>Our addition: vocabulary rows of the (tied) embedding; null = take it from the checkpoint.</summary>
    [JsonPropertyName("vocab_size")] public int? VocabSize { get; set; }

    /// <summary>Our addition: τ for the Q/K/V Pattentions; null = √qkv_slot_num.</summary>
    [JsonPropertyName("pattention_scale_qkv")] public double? PattentionScaleQkv { get; set; }
    /// <summary>Our addition: τ for the output-projection Pattention; null = √proj_slot_num.</summary>
    [JsonPropertyName("pattention_scale_proj")] public double? PattentionScaleProj { get; set; }
    /// <summary>Our addition: τ for the FFN Pattention; null = √ffn_slot_num.</summary>
    [JsonPropertyName("pattention_scale_ffn")] public double? PattentionScaleFfn { get; set; }

    /// <summary>
    /// What the reader assumed for fields the file left out, one line each naming the file, the field, the value and
    /// why (<see cref="ConfigDefaults.Optional"/>); empty for a config that states every field. Not written to JSON:
    /// a saved config states every field.
    /// </summary>
    [JsonIgnore] public IReadOnlyList<string> Assumptions { get; set; } = [];

    /// <summary>Fields this class does not know; kept and written back.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>Head dimension h = d / H.</summary>
    [JsonIgnore] public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Rotated channels per head r = int(h·rotary_pct).</summary>
    [JsonIgnore] public int RotaryDim => (int)(HeadDim * RotaryPct);

    /// <summary>The parsed <see cref="NormActivationType"/>.</summary>
    [JsonIgnore]
    public NormActivation Activation => NormActivations.TryParse(NormActivationType, out NormActivation a) ? a
        : throw new TokenFormerConfigException($"norm_activation_type '{NormActivationType}' is not one of l2_norm_gelu, gelu_l2_norm, softmax");

    /// <summary>Vocabulary size; throws when it is still unknown.</summary>
    [JsonIgnore]
    public int Vocab => VocabSize ?? throw new TokenFormerConfigException("vocab_size is not set (and no checkpoint provided it)");

    /// <summary>τ of the Q/K/V Pattentions.</summary>
    [JsonIgnore] public double ScaleQkv => PattentionScaleQkv ?? Math.Sqrt(QkvSlotNum);
    /// <summary>τ of the output projection.</summary>
    [JsonIgnore] public double ScaleProj => PattentionScaleProj ?? Math.Sqrt(ProjSlotNum);
    /// <summary>τ of the FFN.</summary>
    [JsonIgnore] public double ScaleFfn => PattentionScaleFfn ?? Math.Sqrt(FfnSlotNum);

    /// <summary>Parameter count P = V·d + L·2d·(3·n_qkv + n_proj + n_ffn) + 2d (docs/architecture.md, Parameters and presets).</summary>
    public long ParameterCount(int? vocab = null) =>
        (long)(vocab ?? Vocab) * HiddenSize + (long)NumLayers * 2 * HiddenSize * (3L * QkvSlotNum + ProjSlotNum + FfnSlotNum) + 2L * HiddenSize;

    /// <summary>
    /// Checks the relations between fields; throws <see cref="TokenFormerConfigException"/> naming the field and
    /// the expected relation.
    /// </summary>
    public void Validate()
    {
        static void Positive(int v, string name)
        {
            if (v <= 0) throw new TokenFormerConfigException($"{name} must be positive (got {v})");
        }
        Positive(NumLayers, "num_layers");
        Positive(HiddenSize, "hidden_size");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(QkvSlotNum, "qkv_slot_num");
        Positive(ProjSlotNum, "proj_slot_num");
        Positive(FfnSlotNum, "ffn_slot_num");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new TokenFormerConfigException(
                $"hidden_size ({HiddenSize}) must be divisible by num_attention_heads ({NumAttentionHeads})");
        if (!(RotaryPct >= 0 && RotaryPct <= 1))
            throw new TokenFormerConfigException($"rotary_pct must be in [0, 1] (got {RotaryPct})");
        if (RotaryDim % 2 != 0)
            throw new TokenFormerConfigException(
                $"rotary dimensions r = int(head_dim {HeadDim} × rotary_pct {RotaryPct}) = {RotaryDim} must be even (rotate-half pairs channel i with i + r/2)");
        if (!(RotaryEmbBase > 0)) throw new TokenFormerConfigException($"rotary_emb_base must be positive (got {RotaryEmbBase})");
        if (!(LayerNormEpsilon > 0)) throw new TokenFormerConfigException($"layernorm_epsilon must be positive (got {LayerNormEpsilon})");
        _ = Activation;
        if (VocabSize is int v && v <= 0) throw new TokenFormerConfigException($"vocab_size must be positive (got {v})");
        foreach (var (value, name) in new[] { (PattentionScaleQkv, "pattention_scale_qkv"), (PattentionScaleProj, "pattention_scale_proj"), (PattentionScaleFfn, "pattention_scale_ffn") })
            if (value is double s && !(s > 0 && double.IsFinite(s)))
                throw new TokenFormerConfigException($"{name} must be a positive number or null (got {s})");
    }

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Fields every config.json must contain.</summary>
    public static readonly string[] RequiredFields =
        ["num_layers", "hidden_size", "num_attention_heads", "qkv_slot_num", "proj_slot_num", "ffn_slot_num"];

    /// <summary>
    /// Parses and validates config.json text with <see cref="ConfigReader"/> (absent fields take
    /// <see cref="ConfigDefaults"/>, unimplemented official fields are refused, unknown fields are kept).
    /// </summary>
    public static TokenFormerConfig FromJson(string json, string source = "config.json") =>
        ConfigReader.FromJson(json, source, keepUnknownFields: true);

    /// <summary>Loads and validates a config.json file; errors name the file.</summary>
    public static TokenFormerConfig Load(string path)
    {
        if (!File.Exists(path)) throw new TokenFormerConfigException($"{path}: file not found");
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Serialises to indented JSON (official names, our additions when set, unknown fields kept).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Writes config.json via a temporary file and rename.</summary>
    public void Save(string path)
    {
        AtomicFile.WriteAllText(path, ToJson() + "\n");
    }

    /// <summary>
    /// The first model field (in config.json order, <see cref="ConfigReader.ModelFieldOrder"/>) whose value differs
    /// from <paramref name="other"/>'s, with both values as JSON text ("null" for unset); null when the two describe
    /// the same model. Fields outside the model (<see cref="Extra"/>: growth lineage, training settings) are not compared.
    /// </summary>
    public (string Field, string Mine, string Theirs)? FirstDifference(TokenFormerConfig other)
    {
        JsonObject mine = JsonNode.Parse(ToJson())!.AsObject(), theirs = JsonNode.Parse(other.ToJson())!.AsObject();
        foreach (string field in ConfigReader.ModelFieldOrder)
        {
            string a = mine[field]?.ToJsonString() ?? "null", b = theirs[field]?.ToJsonString() ?? "null";
            if (a != b) return (field, a, b);
        }
        return null;
    }

    /// <summary>A deep copy (not validated: a copy, not a file read; <see cref="Assumptions"/> are kept).</summary>
    public TokenFormerConfig Clone()
    {
        TokenFormerConfig copy = JsonSerializer.Deserialize<TokenFormerConfig>(ToJson(), Options)!;
        copy.Assumptions = Assumptions;
        return copy;
    }
}

/// <summary>An invalid or inconsistent <see cref="TokenFormerConfig"/>; the message names the field.</summary>
public sealed class TokenFormerConfigException(string message) : Exception(message);
