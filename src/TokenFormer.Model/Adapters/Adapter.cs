using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Growth;

namespace TokenFormer.Model.Adapters;

/// <summary>
/// An adapter made of parameter tokens (docs/adapters.md): K extra key/value rows appended to each Pattention of the
/// chosen groups of a frozen base model. The new keys start at zero, so each new token scores 0, leaves the L2 norm of
/// its row unchanged and adds GeLU(0)·v = 0 (τ stays the base's): training starts exactly from the base, as growth in
/// preserve mode does (<see cref="ModelGrower"/>, which builds the merged model). Only the new rows are stored, in
/// adapter.safetensors under the official key of the base tensor with its last part prefixed by <c>adapter_</c>
/// (<c>sequential.2.mlp.key_param_tokens</c> → <c>sequential.2.mlp.adapter_key_param_tokens</c>, shape [K, d]).
/// </summary>
public sealed class Adapter
{
    /// <summary>The weights file inside an adapter directory.</summary>
    public const string WeightsFile = "adapter.safetensors";

    private readonly Dictionary<string, float[]> _rows;

    /// <summary>The adapter's config.</summary>
    public AdapterConfig Config { get; }

    private Adapter(AdapterConfig config, Dictionary<string, float[]> rows) { Config = config; _rows = rows; }

    /// <summary>The adapter rows [K, d] appended to the base tensor named <paramref name="baseTensor"/> (empty when that tensor is not adapted).</summary>
    public ReadOnlySpan<float> Rows(string baseTensor) => _rows.TryGetValue(baseTensor, out float[]? r) ? r : default;

    /// <summary>Trainable parameters of the adapter (all its rows).</summary>
    public long ParameterCount => _rows.Values.Sum(r => (long)r.Length);

    /// <summary>The key of <paramref name="baseTensor"/>'s adapter rows in adapter.safetensors.</summary>
    public static string FileKey(string baseTensor)
    {
        int dot = baseTensor.LastIndexOf('.');
        return baseTensor[..(dot + 1)] + "adapter_" + baseTensor[(dot + 1)..];
    }

    /// <summary>Tokens the adapter appends to the Pattention of <paramref name="site"/>.</summary>
    public static int TokensOf(TokenCounts counts, PattentionSite site) => site switch
    {
        PattentionSite.Query or PattentionSite.Key or PattentionSite.Value => counts.Qkv,
        PattentionSite.Projection => counts.Proj,
        PattentionSite.Ffn => counts.Ffn,
        _ => 0,
    };

    /// <summary>
    /// Lower-case hex SHA-256 over the model's weights: for each tensor in layout order, its name and shape as UTF-8
    /// text "name[d0,d1]\n" followed by its float32 values little-endian. Needs float32 weights.
    /// </summary>
    public static string BaseHash(TokenFormerModel model)
    {
        if (model.ReducedWeights != null) throw new AdapterFormatException("adapters apply to float32 base models; this base is stored in reduced precision (bf16/int8/int4)");
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (ParameterTensor t in model.Layout.Tensors)
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"{t.Name}[{string.Join(',', t.Shape)}]\n"));
            ReadOnlySpan<float> data = model.Parameters.AsSpan(t.Offset, t.Length);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the weight hash is defined on little-endian floats");
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Parses a --projections list ("qkv,proj,ffn", any subset) into per-group token counts of <paramref name="k"/>.</summary>
    public static TokenCounts CountsFor(IEnumerable<string> projections, int k)
    {
        if (k < 1) throw new ArgumentException($"adapter tokens must be at least 1 (got {k})");
        int q = 0, p = 0, f = 0;
        foreach (string raw in projections)
        {
            switch (raw.Trim())
            {
                case "qkv": q = k; break;
                case "proj": p = k; break;
                case "ffn": f = k; break;
                default: throw new ArgumentException($"unknown projection '{raw.Trim()}'; expected a comma-separated subset of qkv, proj, ffn");
            }
        }
        if (q + p + f == 0) throw new ArgumentException("no projection given; expected a comma-separated subset of qkv, proj, ffn");
        return new TokenCounts(q, p, f);
    }

    /// <summary>The config of a fresh adapter of <paramref name="tokens"/> on <paramref name="baseModel"/> (computes the base hash).</summary>
    public static AdapterConfig Describe(TokenFormerModel baseModel, TokenCounts tokens, int seed, double valueScale)
    {
        CheckApplicable(baseModel.Config);
        var projections = new List<string>();
        if (tokens.Qkv > 0) projections.Add("qkv");
        if (tokens.Proj > 0) projections.Add("proj");
        if (tokens.Ffn > 0) projections.Add("ffn");
        TokenFormerConfig baseConfig = baseModel.Config.Clone();
        baseConfig.VocabSize = baseModel.Vocab;
        return new AdapterConfig
        {
            Tokens = tokens, Projections = projections, BaseSha256 = BaseHash(baseModel),
            BaseConfig = JsonNode.Parse(baseConfig.ToJson())!.AsObject(), Seed = seed, ValueScale = valueScale,
        };
    }

    /// <summary>Adapters keep the start exactly the base only for the L2 normalisers (a zero key still takes softmax mass).</summary>
    private static void CheckApplicable(TokenFormerConfig config)
    {
        if (config.Activation == NormActivation.Softmax)
            throw new AdapterFormatException("adapters need norm_activation_type l2_norm_gelu or gelu_l2_norm: with softmax a zero key still takes probability mass (exp 0 = 1), so the adapted model would not start from the base");
    }

    /// <summary>
    /// The merged model an adapter of <paramref name="config"/> trains in: the base grown in preserve mode by the adapter's
    /// tokens (zero keys, values N(0, (value_scale·2/(L·√d))²) drawn with the config's seed, τ kept at the base's), so it
    /// computes the base's function. Its growth lineage marks the base rows old, which <c>FreezeOld</c> keeps fixed.
    /// </summary>
    public static TokenFormerModel StartMerged(TokenFormerModel baseModel, AdapterConfig config, string source = "(in memory)")
    {
        CheckBase(config, baseModel, source);
        return ModelGrower.Grow(baseModel, new GrowthOptions(Grown(baseModel.Config, config.Tokens), GrowthMode.Preserve, config.Seed, source, config.ValueScale));
    }

    private static TokenCounts Grown(TokenFormerConfig baseConfig, TokenCounts extra) =>
        new(baseConfig.QkvSlotNum + extra.Qkv, baseConfig.ProjSlotNum + extra.Proj, baseConfig.FfnSlotNum + extra.Ffn);

    /// <summary>
    /// Refuses a base whose weights are not the ones the adapter was made for (by SHA-256), naming both hashes.
    /// <paramref name="baseName"/> names the base in the message.
    /// </summary>
    public static void CheckBase(AdapterConfig config, TokenFormerModel baseModel, string baseName, string? knownHash = null)
    {
        CheckApplicable(baseModel.Config);
        string hash = knownHash ?? BaseHash(baseModel);
        if (hash != config.BaseSha256)
            throw new AdapterFormatException($"the adapter was trained on the base with weights sha256 {config.BaseSha256}, but {baseName} has weights sha256 {hash}; apply it to the base it was made for");
    }

    /// <summary>
    /// The adapter rows of a merged model (made by <see cref="StartMerged"/> and trained): rows n_base … n_base+K−1 of every
    /// adapted tensor. Checks that the merged model's base rows are still the base's (its hash), so an adapter is never
    /// written for a base that moved.
    /// </summary>
    public static Adapter Extract(TokenFormerModel merged, AdapterConfig config, long steps)
    {
        TokenFormerConfig baseConfig = config.BaseModelConfig("adapter config");
        var baseModel = new TokenFormerModel(baseConfig);
        var rows = new Dictionary<string, float[]>();
        foreach (ParameterTensor t in baseModel.Layout.Tensors)
        {
            ParameterTensor m = merged.Layout.Find(t.Name) ?? throw new AdapterFormatException($"the merged model has no tensor '{t.Name}'");
            merged.Parameters.AsSpan(m.Offset, t.Length).CopyTo(baseModel.Parameters.AsSpan(t.Offset, t.Length));
            int k = t.Grows ? TokensOf(config.Tokens, t.Site) : 0;
            if (m.Length != t.Length + k * (t.Length / t.Shape[0]))
                throw new AdapterFormatException($"tensor '{t.Name}' has {m.Length} floats in the merged model; the base's {t.Length} and {k} adapter rows were expected");
            if (k > 0) rows[t.Name] = merged.Parameters.AsSpan(m.Offset + t.Length, m.Length - t.Length).ToArray();
        }
        string hash = BaseHash(baseModel);
        if (hash != config.BaseSha256)
            throw new AdapterFormatException($"the base rows of the merged model changed (sha256 {hash}, the base's is {config.BaseSha256}); the base must stay frozen");
        AdapterConfig copy = config.Clone();
        copy.Steps = steps;
        return new Adapter(copy, rows);
    }

    /// <summary>
    /// The plain model with the adapter's rows appended to <paramref name="baseModel"/> (the merged model: config with the
    /// grown token counts and τ pinned at the base's, growth lineage recorded). Refuses another base (<see cref="CheckBase"/>).
    /// </summary>
    public TokenFormerModel Merge(TokenFormerModel baseModel, string baseName, string? knownHash = null)
    {
        CheckBase(Config, baseModel, baseName, knownHash);
        TokenFormerModel merged = ModelGrower.Grow(baseModel, new GrowthOptions(Grown(baseModel.Config, Config.Tokens), GrowthMode.Preserve, Config.Seed, baseName, Config.ValueScale));
        foreach (ParameterTensor t in baseModel.Layout.Tensors)
        {
            if (!_rows.TryGetValue(t.Name, out float[]? r)) continue;
            ParameterTensor m = merged.Layout.Find(t.Name)!;
            r.CopyTo(merged.Parameters.AsSpan(m.Offset + t.Length, r.Length));
        }
        return merged;
    }

    /// <summary>Writes adapter.safetensors and adapter_config.json into <paramref name="directory"/> (each via a temporary file and rename).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var writer = new SafeTensorsWriter();
        int d = Config.BaseModelConfig("adapter config").HiddenSize;
        foreach (var (name, r) in _rows)
            writer.AddFloat32(FileKey(name), r, r.Length / d, d);
        writer.Save(Path.Combine(directory, WeightsFile));
        Config.Save(Path.Combine(directory, AdapterConfig.FileName));
    }

    /// <summary>Loads an adapter directory; every expected key must be present with shape [K, d] and nothing else.</summary>
    public static Adapter Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new AdapterFormatException($"{directory}: adapter directory not found");
        string configPath = Path.Combine(directory, AdapterConfig.FileName), weightsPath = Path.Combine(directory, WeightsFile);
        AdapterConfig config = AdapterConfig.Load(configPath);
        TokenFormerConfig baseConfig = config.BaseModelConfig(configPath);
        if (!File.Exists(weightsPath)) throw new AdapterFormatException($"{weightsPath}: file not found");
        ParameterLayout layout;
        try { layout = new ParameterLayout(baseConfig, baseConfig.Vocab); }
        catch (TokenFormerConfigException e) { throw new AdapterFormatException($"{configPath}: field 'base_config': {e.Message}"); }
        var rows = new Dictionary<string, float[]>();
        var expected = new HashSet<string>();
        try
        {
            using SafeTensorsFile file = SafeTensorsFile.Open(weightsPath);
            foreach (ParameterTensor t in layout.Tensors)
            {
                int k = t.Grows ? TokensOf(config.Tokens, t.Site) : 0;
                if (k == 0) continue;
                string key = FileKey(t.Name);
                expected.Add(key);
                if (!file.Contains(key)) throw new AdapterFormatException($"{weightsPath}: tensor '{key}' is missing ({configPath} gives {k} tokens for this group)");
                SafeTensorInfo info = file.Get(key);
                int width = t.Shape[1];
                if (info.Shape.Length != 2 || info.Shape[0] != k || info.Shape[1] != width)
                    throw new AdapterFormatException($"{weightsPath}: tensor '{key}' has shape {info.ShapeText}, expected [{k}, {width}]");
                float[] data = new float[k * width];
                file.ReadFloat32(key, data);
                rows[t.Name] = data;
            }
            foreach (SafeTensorInfo info in file.Tensors)
                if (!expected.Contains(info.Name))
                    throw new AdapterFormatException($"{weightsPath}: unexpected tensor '{info.Name}' (the config's adapter_tokens and the base's layers do not call for it)");
        }
        catch (SafeTensorsFormatException e) { throw new AdapterFormatException(e.Message); }
        return new Adapter(config, rows);
    }
}
