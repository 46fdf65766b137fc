using TokenFormer.Core.SafeTensors;
using TokenFormer.Model;

namespace TokenFormer.Vision;

/// <summary>
/// A vision TokenFormer's parameters (docs/vision.md, The model). Two float32 arenas:
/// <list type="bullet">
/// <item><see cref="Core"/>, an ordinary <see cref="TokenFormerModel"/> laid out by the language model's
/// <see cref="ParameterLayout"/> with vocab = classes: the blocks' parameter tokens, the "final norm" (the LayerNorm of
/// the pooled features, affine) and the "embedding" [classes, d], which here is the classifier's weight (never looked up
/// as an input). Growth (<see cref="Model.Growth.ModelGrower"/>) works on it unchanged.</item>
/// <item><see cref="Stem"/>, laid out by <see cref="StemLayout"/>: <c>patch_embed.weight</c> [d, C·P²] and
/// <c>patch_embed.bias</c> [d] (a linear patch embedding), <c>pos_embed</c> [T, d] (learned positions) and
/// <c>head.bias</c> [classes].</item>
/// </list>
/// model.safetensors names the core tensors <c>blocks.{l}.attention.{query,key,value,proj}.{key,value}_param_tokens</c>,
/// <c>blocks.{l}.mlp.…</c>, <c>norm.weight</c>, <c>norm.bias</c>, <c>head.weight</c>, and the stem tensors as above.
/// </summary>
public sealed class VisionModel
{
    /// <summary>Config file name in a model directory.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>Weights file name in a model directory.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>The configuration.</summary>
    public VisionConfig Config { get; }
    /// <summary>Blocks, pooled LayerNorm and head weight.</summary>
    public TokenFormerModel Core { get; }
    /// <summary>Layout of <see cref="Stem"/>.</summary>
    public ParameterLayout StemLayout { get; }
    /// <summary>Patch embedding, position table and head bias.</summary>
    public float[] Stem { get; }

    /// <summary>patch_embed.weight [d, C·P²].</summary>
    public ParameterTensor PatchWeight { get; }
    /// <summary>patch_embed.bias [d].</summary>
    public ParameterTensor PatchBias { get; }
    /// <summary>pos_embed [T, d].</summary>
    public ParameterTensor Positions { get; }
    /// <summary>head.bias [classes].</summary>
    public ParameterTensor HeadBias { get; }

    /// <summary>A model with zeroed parameters.</summary>
    public VisionModel(VisionConfig config) : this(config, new TokenFormerModel(config.Blocks)) { }

    /// <summary>A model around an existing core (a grown one); the stem is zeroed.</summary>
    public VisionModel(VisionConfig config, TokenFormerModel core)
    {
        config.Validate();
        Config = config;
        Core = core;
        int d = config.Hidden, T = config.Patches;
        int offset = 0;
        ParameterTensor Add(string name, int[] shape, bool decay)
        {
            var t = new ParameterTensor(name, shape, offset, decay, ParameterRole.Auxiliary);
            offset += t.Length;
            return t;
        }
        PatchWeight = Add("patch_embed.weight", [d, config.PatchDim], true);
        PatchBias = Add("patch_embed.bias", [d], false);
        Positions = Add("pos_embed", [T, d], false);
        HeadBias = Add("head.bias", [config.NumClasses], false);
        StemLayout = new ParameterLayout([PatchWeight, PatchBias, Positions, HeadBias]);
        Stem = new float[StemLayout.Count];
    }

    /// <summary>All parameters (core and stem).</summary>
    public long ParameterCount => Core.Parameters.LongLength + Stem.LongLength;

    /// <summary>
    /// Random initialisation, deterministic for a seed: the core as the language model (key tokens and head weight
    /// N(0, 0.02²), value tokens N(0, (2/(L·√d))²), LayerNorm weight 1, bias 0); patch weight N(0, 1/(C·P²)) (unit
    /// variance out for unit-variance pixels), position table N(0, 0.02²), biases 0.
    /// </summary>
    public void InitializeRandom(int seed)
    {
        Core.InitializeRandom(seed);
        var rng = new Random(unchecked(seed * 31 + 7));
        Array.Clear(Stem);
        GaussianFill.Fill(rng, Span(PatchWeight), 1.0 / Math.Sqrt(Config.PatchDim));
        GaussianFill.Fill(rng, Span(Positions), ParameterTensor.KeyStd);
    }

    /// <summary>The stem tensor <paramref name="t"/> as a span.</summary>
    public Span<float> Span(ParameterTensor t) => Stem.AsSpan(t.Offset, t.Length);

    /// <summary>The model.safetensors key of a core tensor.</summary>
    public static string CoreKey(ParameterTensor t) => t.Role switch
    {
        ParameterRole.Embedding => "head.weight",
        ParameterRole.FinalNormWeight => "norm.weight",
        ParameterRole.FinalNormBias => "norm.bias",
        _ when t.Layer >= 0 && t.Name.StartsWith(ParameterLayout.LayerKey(t.Layer, ""), StringComparison.Ordinal) =>
            $"blocks.{t.Layer}." + t.Name[ParameterLayout.LayerKey(t.Layer, "").Length..],
        _ => t.Name,
    };

    /// <summary>Every tensor with its safetensors key, arena and offset: core first, then stem.</summary>
    public IEnumerable<(string Key, ParameterTensor Tensor, float[] Arena)> AllTensors()
    {
        foreach (ParameterTensor t in Core.Layout.Tensors) yield return (CoreKey(t), t, Core.Parameters);
        foreach (ParameterTensor t in StemLayout.Tensors) yield return (t.Name, t, Stem);
    }

    /// <summary>Writes config.json and model.safetensors into <paramref name="directory"/> (each via a temporary file and rename).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var w = new SafeTensorsWriter(keepInsertionOrder: true);
        w.Metadata["format"] = "pt";
        foreach (var (key, t, arena) in AllTensors())
            w.AddFloat32(key, arena.AsMemory(t.Offset, t.Length), t.Shape.Select(s => (long)s).ToArray());
        w.Save(Path.Combine(directory, WeightsFile));
        Config.Save(Path.Combine(directory, ConfigFile));
    }

    /// <summary>
    /// Loads a model directory. Errors (<see cref="VisionFormatException"/> or <see cref="TokenFormerConfigException"/>)
    /// name the file and the tensor or field.
    /// </summary>
    public static VisionModel Load(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile), weights = Path.Combine(directory, WeightsFile);
        if (!Directory.Exists(directory)) throw new VisionFormatException($"{directory}: model directory not found");
        VisionConfig config = VisionConfig.Load(configPath);
        if (!File.Exists(weights)) throw new VisionFormatException($"{weights}: file not found");
        var model = new VisionModel(config);
        try
        {
            using SafeTensorsFile f = SafeTensorsFile.Open(weights);
            foreach (var (key, t, arena) in model.AllTensors())
            {
                if (!f.Contains(key)) throw new VisionFormatException($"{weights}: tensor '{key}' is missing (expected shape {SafeTensorInfo.FormatShape(t.Shape)} for {configPath})");
                SafeTensorInfo info = f.Get(key);
                if (!info.Shape.SequenceEqual(t.Shape.Select(s => (long)s)))
                    throw new VisionFormatException($"{weights}: tensor '{key}' has shape {SafeTensorInfo.FormatShape(info.Shape)}, but {configPath} needs {SafeTensorInfo.FormatShape(t.Shape)}");
                f.ReadFloat32(key, arena.AsSpan(t.Offset, t.Length));
            }
        }
        catch (SafeTensorsFormatException e) { throw new VisionFormatException($"{weights}: {e.Message}"); }
        return model;
    }
}

/// <summary>A model directory, data file or image that cannot be read as expected; the message names the file.</summary>
public sealed class VisionFormatException(string message) : Exception(message);
