using System.Text.Json;
using System.Text.Json.Serialization;
using TokenFormer.Core.IO;

namespace TokenFormer.Model;

/// <summary>
/// Hyper-parameters of a TokenFormer language model, stored as <c>config.json</c> with the official field names
/// (those of the released models' config.json and the official YAML configs). Our additions have their own
/// names: <c>vocab_size</c> (taken from the embedding tensor when absent) and the optional Pattention scale
/// overrides <c>pattention_scale_qkv|proj|ffn</c> (τ; null = √n of that Pattention, as the official code).
/// Unknown fields are kept in <see cref="Extra"/> and written back unchanged.
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
    [JsonPropertyName("norm_activation_type")] public string NormActivationType { get; set; } = "l2_norm_gelu";
    /// <summary>Fraction of each head's dimensions that get rotary position embeddings.</summary>
    [JsonPropertyName("rotary_pct")] public double RotaryPct { get; set; } = 0.25;
    /// <summary>Base of the rotary embedding frequencies.</summary>
    [JsonPropertyName("rotary_emb_base")] public double RotaryEmbBase { get; set; } = 10000;
    /// <summary>ε of the (non-parametric and final) LayerNorms.</summary>
    [JsonPropertyName("layernorm_epsilon")] public double LayerNormEpsilon { get; set; } = 1e-5;
    /// <summary>Most positions per sequence (the context length).</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 2048;

    /// <summary>Our addition: vocabulary rows of the (tied) embedding; null = take it from the checkpoint.</summary>
    [JsonPropertyName("vocab_size")] public int? VocabSize { get; set; }

    /// <summary>Our addition: τ for the Q/K/V Pattentions; null = √qkv_slot_num.</summary>
    [JsonPropertyName("pattention_scale_qkv")] public double? PattentionScaleQkv { get; set; }
    /// <summary>Our addition: τ for the output-projection Pattention; null = √proj_slot_num.</summary>
    [JsonPropertyName("pattention_scale_proj")] public double? PattentionScaleProj { get; set; }
    /// <summary>Our addition: τ for the FFN Pattention; null = √ffn_slot_num.</summary>
    [JsonPropertyName("pattention_scale_ffn")] public double? PattentionScaleFfn { get; set; }

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

    /// <summary>Parameter count P = V·d + L·2d·(3·n_qkv + n_proj + n_ffn) + 2d (spec §2).</summary>
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

    /// <summary>Parses config.json text (does not validate; call <see cref="Validate"/>).</summary>
    public static TokenFormerConfig FromJson(string json, string source = "config.json")
    {
        try
        {
            using (JsonDocument doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }))
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new TokenFormerConfigException($"{source}: expected a JSON object");
                foreach (string required in RequiredFields)
                    if (!doc.RootElement.TryGetProperty(required, out _))
                        throw new TokenFormerConfigException($"{source}: required field '{required}' is missing");
            }
            return JsonSerializer.Deserialize<TokenFormerConfig>(json, Options)
                ?? throw new TokenFormerConfigException($"{source}: empty config");
        }
        catch (JsonException e)
        {
            throw new TokenFormerConfigException($"{source}: {e.Message}");
        }
    }

    /// <summary>Loads and validates a config.json file; errors name the file.</summary>
    public static TokenFormerConfig Load(string path)
    {
        if (!File.Exists(path)) throw new TokenFormerConfigException($"{path}: file not found");
        TokenFormerConfig c = FromJson(File.ReadAllText(path), path);
        try { c.Validate(); }
        catch (TokenFormerConfigException e) { throw new TokenFormerConfigException($"{path}: {e.Message}"); }
        return c;
    }

    /// <summary>Serialises to indented JSON (official names, our additions when set, unknown fields kept).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Writes config.json via a temporary file and rename.</summary>
    public void Save(string path)
    {
        AtomicFile.WriteAllText(path, ToJson() + "\n");
    }

    /// <summary>A deep copy.</summary>
    public TokenFormerConfig Clone() => FromJson(ToJson());
}

/// <summary>An invalid or inconsistent <see cref="TokenFormerConfig"/>; the message names the field.</summary>
public sealed class TokenFormerConfigException(string message) : Exception(message);
