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
    /// <summary>Offsets of one layer's tensors (each [n, d], row-major).</summary>
    public readonly record struct LayerOffsets(
        int QueryKey, int KeyKey, int ValueKey, int QueryValue, int KeyValue, int ValueValue,
        int ProjKey, int ProjValue, int FfnKey, int FfnValue);

    /// <summary>All tensors in arena order.</summary>
    public IReadOnlyList<ParameterTensor> Tensors { get; }
    /// <summary>Total floats.</summary>
    public long Count { get; }
    /// <summary>Offset of the embedding [V, d].</summary>
    public int Embedding { get; }
    /// <summary>Per-layer offsets.</summary>
    public IReadOnlyList<LayerOffsets> Layers { get; }
    /// <summary>Offset of the final LayerNorm weight [d].</summary>
    public int FinalNormWeight { get; }
    /// <summary>Offset of the final LayerNorm bias [d].</summary>
    public int FinalNormBias { get; }

    private readonly Dictionary<string, ParameterTensor> _byName;

    /// <summary>Official key of layer <paramref name="layer"/> (0-based) tensors: sequential.{layer+2}.….</summary>
    public static string LayerKey(int layer, string suffix) => $"sequential.{layer + 2}.{suffix}";

    /// <summary>Builds the layout for a validated config and vocabulary size.</summary>
    public ParameterLayout(TokenFormerConfig config, int vocab)
    {
        int d = config.HiddenSize, L = config.NumLayers;
        var list = new List<ParameterTensor>();
        long offset = 0;
        int Add(string name, int rows, int cols, bool decay, ParameterRole role, int layer = -1, PattentionSite site = PattentionSite.None)
        {
            int[] shape = cols < 0 ? [rows] : [rows, cols];
            long start = offset;
            offset += (long)rows * Math.Max(cols, 1);
            if (offset > Array.MaxLength)
                throw new TokenFormerConfigException($"the model has {offset} parameters, more than one float array can hold ({Array.MaxLength})");
            list.Add(new ParameterTensor(name, shape, (int)start, decay, role, layer, site));
            return (int)start;
        }
        Embedding = Add("sequential.0.word_embeddings.weight", vocab, d, true, ParameterRole.Embedding);
        var layers = new List<LayerOffsets>();
        int nq = config.QkvSlotNum, np = config.ProjSlotNum, nf = config.FfnSlotNum;
        for (int l = 0; l < L; l++)
        {
            int Tokens(string module, PattentionSite site, int n, bool values) =>
                Add(LayerKey(l, module + (values ? ".value_param_tokens" : ".key_param_tokens")), n, d, true,
                    values ? ParameterRole.PattentionValues : ParameterRole.PattentionKeys, l, site);
            int qk = Tokens("attention.query", PattentionSite.Query, nq, false);
            int kk = Tokens("attention.key", PattentionSite.Key, nq, false);
            int vk = Tokens("attention.value", PattentionSite.Value, nq, false);
            int qv = Tokens("attention.query", PattentionSite.Query, nq, true);
            int kv = Tokens("attention.key", PattentionSite.Key, nq, true);
            int vv = Tokens("attention.value", PattentionSite.Value, nq, true);
            int pk = Tokens("attention.proj", PattentionSite.Projection, np, false);
            int pv = Tokens("attention.proj", PattentionSite.Projection, np, true);
            int fk = Tokens("mlp", PattentionSite.Ffn, nf, false);
            int fv = Tokens("mlp", PattentionSite.Ffn, nf, true);
            layers.Add(new LayerOffsets(qk, kk, vk, qv, kv, vv, pk, pv, fk, fv));
        }
        FinalNormWeight = Add($"sequential.{L + 3}.norm.weight", d, -1, false, ParameterRole.FinalNormWeight);
        FinalNormBias = Add($"sequential.{L + 3}.norm.bias", d, -1, false, ParameterRole.FinalNormBias);
        Tensors = list;
        Layers = layers;
        Count = offset;
        _byName = list.ToDictionary(t => t.Name);
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
