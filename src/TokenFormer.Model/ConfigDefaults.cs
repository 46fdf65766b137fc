namespace TokenFormer.Model;

/// <summary>
/// The one table of what a config field means when it is absent, and of the official (GPT-NeoX) architecture fields
/// whose other values this model does not implement. <see cref="ConfigReader"/> applies it to every config it reads
/// (a model directory's config.json, a release's config.json, an official YAML), and <see cref="TokenFormerConfig"/>'s
/// own initial values are these defaults, so a file means the same model wherever it is read.
/// </summary>
public static class ConfigDefaults
{
    /// <summary>
    /// rotary_pct when absent: 0.25, the value every released TokenFormer model's config sets (the official YAML
    /// configs and the Hub config.json files), and the value this project has always written. GPT-NeoX's code
    /// default is 1.0 (rotate every channel of a head); a config that means 1.0 has to say so.
    /// </summary>
    public const double RotaryPct = 0.25;

    /// <summary>rotary_emb_base when absent: 10000, GPT-NeoX's default, which the released models leave unset.</summary>
    public const double RotaryEmbBase = 10000;

    /// <summary>layernorm_epsilon when absent: 1e-5, GPT-NeoX's default, which the released models leave unset.</summary>
    public const double LayerNormEpsilon = 1e-5;

    /// <summary>norm_activation_type when absent: l2_norm_gelu, the released models' Pattention normalisation.</summary>
    public const string NormActivationType = "l2_norm_gelu";

    /// <summary>max_position_embeddings when neither it nor seq_length is given: 2048, the released models' context.</summary>
    public const int MaxPositionEmbeddings = 2048;

    /// <summary>One optional field: its name, the value assumed when it is absent, and why that value.</summary>
    public sealed record Assumed(string Field, object Value, string Reason);

    /// <summary>The optional model fields, with what an absent one means (max_position_embeddings: seq_length first).</summary>
    public static IReadOnlyList<Assumed> Optional { get; } =
    [
        new("rotary_pct", RotaryPct, "the released TokenFormer models' configs set 0.25; GPT-NeoX's code default would be 1.0"),
        new("rotary_emb_base", RotaryEmbBase, "GPT-NeoX's default, used by the released models"),
        new("layernorm_epsilon", LayerNormEpsilon, "GPT-NeoX's default, used by the released models"),
        new("norm_activation_type", NormActivationType, "the released models' Pattention normalisation"),
        new("max_position_embeddings", MaxPositionEmbeddings, "seq_length when given, else the released models' 2048"),
    ];

    /// <summary>
    /// An official architecture field with the only value this model implements (null: the field must be absent or
    /// null) and why; any other value is refused with a message naming the field.
    /// </summary>
    public sealed record Fixed(string Field, object? Implemented, string Why);

    /// <summary>The official architecture fields whose other values change the model into one not implemented here.</summary>
    public static IReadOnlyList<Fixed> FixedFields { get; } =
    [
        new("pos_emb", "rotary", "the released TokenFormer models use partial rotary embeddings"),
        new("norm", "layernorm_nonparam", "per-layer norms of the released models are non-parametric LayerNorms"),
        new("final_norm", "layernorm", "the released models end with an affine LayerNorm"),
        new("no_weight_tying", false, "input and output embeddings are tied"),
        new("gpt_j_residual", false, "the released models use the sequential residual"),
        new("use_bias_in_attn_linear", false, "the released models have no biases"),
        new("sliding_window_width", null, "attention here covers the whole causal context; sliding-window attention is not implemented"),
    ];
}
