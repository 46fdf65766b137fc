namespace TokenFormer.Model;

/// <summary>
/// Where every parameter tensor lives in the one contiguous parameter arena (and, at the same offsets, in the
/// gradient arena and the optimiser's moment arenas), under the official checkpoint key names, each with its
/// <see cref="ParameterRole"/>. Official keys: <c>sequential.0.word_embeddings.weight</c>; for layer l (0-based)
/// <c>sequential.{l+2}.attention.{query,key,value,proj}.{key,value}_param_tokens</c> and
/// <c>sequential.{l+2}.mlp.{key,value}_param_tokens</c>; the final LayerNorm <c>sequential.{L+3}.norm.{weight,bias}</c>.
/// Within a layer the three Q/K/V key tensors are adjacent ([3·n_qkv, d]) so that the three score GEMMs run as one.
/// </summary>
public sealed class ParameterLayout
{
    /// <summary>All tensors in arena order.</summary>
    public IReadOnlyList<ParameterTensor> Tensors { get; }
    /// <summary>Total floats.</summary>
    public long Count { get; }

    private readonly Dictionary<string, ParameterTensor> _byName;

    /// <summary>Official key of layer <paramref name="layer"/> (0-based) tensors: sequential.{layer+2}.….</summary>
    public static string LayerKey(int layer, string suffix) => $"sequential.{layer + 2}.{suffix}";

    /// <summary>Builds the layout for a validated config and vocabulary size.</summary>
    public ParameterLayout(TokenFormerConfig config, int vocab)
    {
        int d = config.HiddenSize, L = config.NumLayers;
        var list = new List<ParameterTensor>();
        long offset = 0;
        void Add(string name, int rows, int cols, bool decay, ParameterRole role, int layer = -1, PattentionSite site = PattentionSite.None)
        {
            int[] shape = cols < 0 ? [rows] : [rows, cols];
            long start = offset;
            offset += (long)rows * Math.Max(cols, 1);
            if (offset > Array.MaxLength)
                throw new TokenFormerConfigException($"the model has {offset} parameters, more than one float array can hold ({Array.MaxLength})");
            list.Add(new ParameterTensor(name, shape, (int)start, decay, role, layer, site));
        }
        Add("sequential.0.word_embeddings.weight", vocab, d, true, ParameterRole.Embedding);
        int nq = config.QkvSlotNum, np = config.ProjSlotNum, nf = config.FfnSlotNum;
        for (int l = 0; l < L; l++)
        {
            void Tokens(string module, PattentionSite site, int n, bool values) =>
                Add(LayerKey(l, module + (values ? ".value_param_tokens" : ".key_param_tokens")), n, d, true,
                    values ? ParameterRole.PattentionValues : ParameterRole.PattentionKeys, l, site);
            // the three Q/K/V key tensors first and adjacent: their score products run as one GEMM
            Tokens("attention.query", PattentionSite.Query, nq, false);
            Tokens("attention.key", PattentionSite.Key, nq, false);
            Tokens("attention.value", PattentionSite.Value, nq, false);
            Tokens("attention.query", PattentionSite.Query, nq, true);
            Tokens("attention.key", PattentionSite.Key, nq, true);
            Tokens("attention.value", PattentionSite.Value, nq, true);
            Tokens("attention.proj", PattentionSite.Projection, np, false);
            Tokens("attention.proj", PattentionSite.Projection, np, true);
            Tokens("mlp", PattentionSite.Ffn, nf, false);
            Tokens("mlp", PattentionSite.Ffn, nf, true);
        }
        Add($"sequential.{L + 3}.norm.weight", d, -1, false, ParameterRole.FinalNormWeight);
        Add($"sequential.{L + 3}.norm.bias", d, -1, false, ParameterRole.FinalNormBias);
        Tensors = list;
        Count = offset;
        _byName = list.ToDictionary(t => t.Name);
    }

    /// <summary>
    /// A layout of explicitly given tensors (a model that is not the language model, such as the parameters a vision
    /// model keeps beside its blocks): they must follow each other in the arena from offset 0 without gaps or overlaps
    /// and have distinct names. AdamW, gradient clipping and checkpoints read it like the language model's layout.
    /// </summary>
    public ParameterLayout(IReadOnlyList<ParameterTensor> tensors)
    {
        long offset = 0;
        foreach (ParameterTensor t in tensors)
        {
            if (t.Offset != offset)
                throw new ArgumentException($"tensor '{t.Name}' starts at offset {t.Offset}, expected {offset} (tensors must be contiguous and in arena order)", nameof(tensors));
            offset += t.Length;
        }
        Tensors = [.. tensors];
        Count = offset;
        _byName = new Dictionary<string, ParameterTensor>();
        foreach (ParameterTensor t in tensors)
            if (!_byName.TryAdd(t.Name, t)) throw new ArgumentException($"tensor name '{t.Name}' appears twice", nameof(tensors));
    }

    /// <summary>The key or value tokens of the Pattention at <paramref name="site"/> of layer <paramref name="layer"/>.</summary>
    public ParameterTensor Tensor(int layer, PattentionSite site, ParameterRole role) =>
        Tensors.FirstOrDefault(t => t.Layer == layer && t.Site == site && t.Role == role)
        ?? throw new ArgumentException($"the layout has no {role} tensor for {site} in layer {layer}");

    /// <summary>The first tensor with role <paramref name="role"/> (the embedding, the final LayerNorm weight or bias).</summary>
    public ParameterTensor Tensor(ParameterRole role) =>
        Tensors.FirstOrDefault(t => t.Role == role) ?? throw new ArgumentException($"the layout has no {role} tensor");

    /// <summary>The tensor with official key <paramref name="name"/>, or null.</summary>
    public ParameterTensor? Find(string name) => _byName.GetValueOrDefault(name);
}
