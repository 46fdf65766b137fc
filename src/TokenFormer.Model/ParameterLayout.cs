namespace TokenFormer.Model;

/// <summary>
/// Where every parameter tensor lives in the one contiguous parameter arena (and, at the same offsets, in the
/// gradient arena and the optimiser's moment arenas), under the official checkpoint key names (spec §6.1).
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
        int Add(string name, int rows, int cols, bool decay)
        {
            int[] shape = cols < 0 ? [rows] : [rows, cols];
            long start = offset;
            offset += (long)rows * Math.Max(cols, 1);
            if (offset > Array.MaxLength)
                throw new TokenFormerConfigException($"the model has {offset} parameters, more than one float array can hold ({Array.MaxLength})");
            list.Add(new ParameterTensor(name, shape, (int)start, decay));
            return (int)start;
        }
        Embedding = Add("sequential.0.word_embeddings.weight", vocab, d, true);
        var layers = new List<LayerOffsets>();
        int nq = config.QkvSlotNum, np = config.ProjSlotNum, nf = config.FfnSlotNum;
        for (int l = 0; l < L; l++)
        {
            int qk = Add(LayerKey(l, "attention.query.key_param_tokens"), nq, d, true);
            int kk = Add(LayerKey(l, "attention.key.key_param_tokens"), nq, d, true);
            int vk = Add(LayerKey(l, "attention.value.key_param_tokens"), nq, d, true);
            int qv = Add(LayerKey(l, "attention.query.value_param_tokens"), nq, d, true);
            int kv = Add(LayerKey(l, "attention.key.value_param_tokens"), nq, d, true);
            int vv = Add(LayerKey(l, "attention.value.value_param_tokens"), nq, d, true);
            int pk = Add(LayerKey(l, "attention.proj.key_param_tokens"), np, d, true);
            int pv = Add(LayerKey(l, "attention.proj.value_param_tokens"), np, d, true);
            int fk = Add(LayerKey(l, "mlp.key_param_tokens"), nf, d, true);
            int fv = Add(LayerKey(l, "mlp.value_param_tokens"), nf, d, true);
            layers.Add(new LayerOffsets(qk, kk, vk, qv, kv, vv, pk, pv, fk, fv));
        }
        FinalNormWeight = Add($"sequential.{L + 3}.norm.weight", d, -1, false);
        FinalNormBias = Add($"sequential.{L + 3}.norm.bias", d, -1, false);
        Tensors = list;
        Layers = layers;
        Count = offset;
        _byName = list.ToDictionary(t => t.Name);
    }

    /// <summary>The tensor with official key <paramref name="name"/>, or null.</summary>
    public ParameterTensor? Find(string name) => _byName.GetValueOrDefault(name);
}
