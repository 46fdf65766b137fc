using TokenFormer.Model.Growth;

namespace TokenFormer.Model;

/// <summary>What a parameter tensor is in the model: the one place its role, initialisation and growth rule are read from.</summary>
public enum ParameterRole
{
    /// <summary>The tied token embedding [V, d] (input lookup and output head).</summary>
    Embedding,
    /// <summary>Key parameter tokens K_P [n, d_in] of one Pattention.</summary>
    PattentionKeys,
    /// <summary>Value parameter tokens V_P [n, d_out] of one Pattention.</summary>
    PattentionValues,
    /// <summary>Weight of the final LayerNorm [d].</summary>
    FinalNormWeight,
    /// <summary>Bias of the final LayerNorm [d].</summary>
    FinalNormBias,
    /// <summary>
    /// A tensor outside the language model's definition (a vision model's patch embedding, position table or head bias):
    /// never grown, initialised by the model that owns it.
    /// </summary>
    Auxiliary,
}

/// <summary>Which Pattention of a layer a parameter-token tensor belongs to.</summary>
public enum PattentionSite
{
    /// <summary>Not a Pattention tensor.</summary>
    None,
    /// <summary>Query projection (attention block).</summary>
    Query,
    /// <summary>Key projection (attention block).</summary>
    Key,
    /// <summary>Value projection (attention block).</summary>
    Value,
    /// <summary>Output projection of the attention block.</summary>
    Projection,
    /// <summary>The FFN (the whole MLP is one Pattention).</summary>
    Ffn,
}

/// <summary>
/// One named parameter tensor inside the parameter arena: official key, shape, float offset, weight-decay flag and
/// its <see cref="Role"/> (with <see cref="Layer"/> and <see cref="Site"/> for parameter tokens), from which the
/// initialisation (<see cref="InitialStd"/>), the growth rule (<see cref="Grows"/>, <see cref="TokenCount"/>) and
/// freezing are read instead of being re-derived from key names.
/// </summary>
public sealed record ParameterTensor(string Name, int[] Shape, int Offset, bool Decay, ParameterRole Role,
    int Layer = -1, PattentionSite Site = PattentionSite.None)
{
    /// <summary>Number of floats.</summary>
    public int Length => Shape.Aggregate(1, (a, b) => checked(a * b));

    /// <summary>True for key or value parameter tokens: the tensors that growth appends rows to.</summary>
    public bool Grows => Role is ParameterRole.PattentionKeys or ParameterRole.PattentionValues;

    /// <summary>The number of parameter tokens (rows) this tensor has under <paramref name="counts"/>; −1 when it does not grow.</summary>
    public int TokenCount(TokenCounts counts) => Site switch
    {
        PattentionSite.Query or PattentionSite.Key or PattentionSite.Value => counts.Qkv,
        PattentionSite.Projection => counts.Proj,
        PattentionSite.Ffn => counts.Ffn,
        _ => -1,
    };

    /// <summary>
    /// Standard deviation of the official N(0, σ²) initialisation: 0.02 for the embedding and key tokens; the "wang
    /// init" 2/(L·√d) for value tokens. NaN for the final LayerNorm, which starts at weight 1, bias 0 (<see cref="InitialConstant"/>).
    /// </summary>
    public double InitialStd(TokenFormerConfig config) => Role switch
    {
        ParameterRole.Embedding or ParameterRole.PattentionKeys => KeyStd,
        ParameterRole.PattentionValues => ValueStd(config),
        _ => double.NaN,
    };

    /// <summary>The constant a LayerNorm tensor starts at (1 for the weight, 0 for the bias); NaN for random tensors.</summary>
    public float InitialConstant => Role switch
    {
        ParameterRole.FinalNormWeight => 1f,
        ParameterRole.FinalNormBias => 0f,
        _ => float.NaN,
    };

    /// <summary>Standard deviation of the embedding and of key parameter tokens.</summary>
    public const double KeyStd = 0.02;

    /// <summary>Value-token initialisation σ = 2/(L·√d) ("wang init").</summary>
    public static double ValueStd(TokenFormerConfig config) => 2.0 / (config.NumLayers * Math.Sqrt(config.HiddenSize));
}
