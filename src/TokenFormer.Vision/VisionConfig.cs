using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TokenFormer.Core.IO;
using TokenFormer.Model;

namespace TokenFormer.Vision;

/// <summary>
/// A vision TokenFormer's configuration, stored as one flat <c>config.json</c>: the block fields of
/// <see cref="TokenFormerConfig"/> (num_layers, hidden_size, num_attention_heads, qkv/proj/ffn_slot_num,
/// norm_activation_type, layernorm_epsilon, …; <c>vocab_size</c> = the number of classes, because the classifier head
/// [classes, d] sits where the language model keeps its embedding; <c>rotary_pct</c> 0, positions are a learned table;
/// <c>max_position_embeddings</c> = patches) plus the image fields <c>model_type</c> = "tokenformer_vision",
/// <c>image_size</c>, <c>image_channels</c>, <c>patch_size</c>, <c>num_classes</c>, <c>pixel_mean</c>, <c>pixel_std</c>
/// and <c>class_names</c> (docs/vision.md, The model).
/// </summary>
public sealed class VisionConfig
{
    /// <summary>The value of <c>model_type</c> that marks a vision model directory.</summary>
    public const string ModelType = "tokenformer_vision";

    /// <summary>Side of the square input image in pixels.</summary>
    public int ImageSize { get; set; }
    /// <summary>Channels of the input (1 greyscale, 3 RGB).</summary>
    public int Channels { get; set; }
    /// <summary>Side of a square patch in pixels; must divide <see cref="ImageSize"/>.</summary>
    public int PatchSize { get; set; }
    /// <summary>Classes of the head.</summary>
    public int NumClasses { get; set; }
    /// <summary>Per-channel mean of pixel/255 subtracted before the patch embedding.</summary>
    public double[] PixelMean { get; set; } = [0.5];
    /// <summary>Per-channel standard deviation of pixel/255 divided by before the patch embedding.</summary>
    public double[] PixelStd { get; set; } = [0.5];
    /// <summary>Class names (index = class id).</summary>
    public string[] ClassNames { get; set; } = [];
    /// <summary>The blocks' configuration (vocab_size = classes, rotary_pct 0).</summary>
    public TokenFormerConfig Blocks { get; set; } = new();

    /// <summary>Patches per side.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;
    /// <summary>Patches (tokens) per image T.</summary>
    public int Patches => PatchesPerSide * PatchesPerSide;
    /// <summary>Floats of one flattened patch C·P².</summary>
    public int PatchDim => Channels * PatchSize * PatchSize;
    /// <summary>Hidden size d.</summary>
    public int Hidden => Blocks.HiddenSize;

    /// <summary>Checks every field and the relations between them; throws <see cref="TokenFormerConfigException"/> naming the field.</summary>
    public void Validate()
    {
        if (ImageSize <= 0) throw new TokenFormerConfigException($"image_size must be positive (got {ImageSize})");
        if (Channels is not (1 or 3)) throw new TokenFormerConfigException($"image_channels must be 1 or 3 (got {Channels})");
        if (PatchSize <= 0 || ImageSize % PatchSize != 0)
            throw new TokenFormerConfigException($"patch_size must be positive and divide image_size {ImageSize} (got {PatchSize})");
        if (NumClasses < 2) throw new TokenFormerConfigException($"num_classes must be at least 2 (got {NumClasses})");
        if (PixelMean.Length != Channels || PixelStd.Length != Channels)
            throw new TokenFormerConfigException($"pixel_mean and pixel_std must have one value per channel ({Channels}); got {PixelMean.Length} and {PixelStd.Length}");
        if (PixelStd.Any(s => !(s > 0))) throw new TokenFormerConfigException("pixel_std values must be positive");
        if (ClassNames.Length != 0 && ClassNames.Length != NumClasses)
            throw new TokenFormerConfigException($"class_names has {ClassNames.Length} names but num_classes is {NumClasses}");
        if (Blocks.VocabSize != NumClasses)
            throw new TokenFormerConfigException($"vocab_size ({Blocks.VocabSize}) must equal num_classes ({NumClasses}): the head takes the embedding's place");
        if (Blocks.RotaryPct != 0)
            throw new TokenFormerConfigException($"rotary_pct must be 0 for a vision model (positions are a learned table), got {Blocks.RotaryPct.ToString(CultureInfo.InvariantCulture)}");
        if (Blocks.MaxPositionEmbeddings != Patches)
            throw new TokenFormerConfigException($"max_position_embeddings ({Blocks.MaxPositionEmbeddings}) must equal the patches per image ({Patches})");
        Blocks.Validate();
    }

    /// <summary>The class name of <paramref name="label"/> (its number when the config has no names).</summary>
    public string ClassName(int label) => label < ClassNames.Length ? ClassNames[label] : label.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A vision config with the given sizes; the blocks get <paramref name="hidden"/>, <paramref name="layers"/>,
    /// <paramref name="heads"/> and the three token counts, l2_norm_gelu, no rotary, one position per patch.
    /// </summary>
    public static VisionConfig Create(int imageSize, int channels, int patchSize, int numClasses, int layers, int hidden, int heads,
        int qkvTokens, int projTokens, int ffnTokens, double[] mean, double[] std, string[]? classNames = null)
    {
        var c = new VisionConfig
        {
            ImageSize = imageSize, Channels = channels, PatchSize = patchSize, NumClasses = numClasses,
            PixelMean = mean, PixelStd = std, ClassNames = classNames ?? [],
        };
        c.Blocks = new TokenFormerConfig
        {
            NumLayers = layers, HiddenSize = hidden, NumAttentionHeads = heads, QkvSlotNum = qkvTokens, ProjSlotNum = projTokens,
            FfnSlotNum = ffnTokens, RotaryPct = 0, VocabSize = numClasses,
            MaxPositionEmbeddings = imageSize % patchSize == 0 && patchSize > 0 ? (imageSize / patchSize) * (imageSize / patchSize) : 1,
        };
        c.Validate();
        return c;
    }

    private static readonly string[] VisionFields =
        ["model_type", "image_size", "image_channels", "patch_size", "num_classes", "pixel_mean", "pixel_std", "class_names"];

    /// <summary>The flat config.json text.</summary>
    public string ToJson()
    {
        JsonObject o = JsonNode.Parse(Blocks.ToJson())!.AsObject();
        o["model_type"] = ModelType;
        o["image_size"] = ImageSize;
        o["image_channels"] = Channels;
        o["patch_size"] = PatchSize;
        o["num_classes"] = NumClasses;
        o["pixel_mean"] = new JsonArray(PixelMean.Select(v => (JsonNode)v).ToArray());
        o["pixel_std"] = new JsonArray(PixelStd.Select(v => (JsonNode)v).ToArray());
        o["class_names"] = new JsonArray(ClassNames.Select(v => (JsonNode)v).ToArray());
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes config.json via a temporary file and rename.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>Whether the config.json at <paramref name="path"/> describes a vision model (model_type).</summary>
    public static bool IsVisionConfig(string path)
    {
        try
        {
            return File.Exists(path) && JsonNode.Parse(File.ReadAllText(path)) is JsonObject o
                && o["model_type"]?.GetValueKind() == JsonValueKind.String && (string?)o["model_type"] == ModelType;
        }
        catch (JsonException) { return false; }
    }

    /// <summary>Parses config.json text; errors name <paramref name="source"/> and the field.</summary>
    public static VisionConfig FromJson(string json, string source)
    {
        JsonObject o;
        try { o = JsonNode.Parse(json) as JsonObject ?? throw new TokenFormerConfigException($"{source}: not a JSON object"); }
        catch (JsonException e) { throw new TokenFormerConfigException($"{source}: not valid JSON ({e.Message})"); }
        if (JsonStrings.FirstUndecodable(json) is { } bad) throw new TokenFormerConfigException($"{source}: {JsonStrings.Describe(bad)}");
        string? type = o["model_type"]?.GetValueKind() == JsonValueKind.String ? (string?)o["model_type"] : null;
        if (type != ModelType)
            throw new TokenFormerConfigException($"{source}: model_type is {(type == null ? "missing" : $"'{type}'")}, expected '{ModelType}' (a vision model directory made by 'tokenformer vision train')");
        int Int(string field)
        {
            JsonNode? n = o[field];
            if (n == null) throw new TokenFormerConfigException($"{source}: field {field} is missing");
            try { return n.GetValue<int>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException) { throw new TokenFormerConfigException($"{source}: field {field} must be an integer (got {n.ToJsonString()})"); }
        }
        double[] Doubles(string field)
        {
            if (o[field] is not JsonArray a) throw new TokenFormerConfigException($"{source}: field {field} must be an array of numbers");
            try { return a.Select(n => n!.GetValue<double>()).ToArray(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException or NullReferenceException) { throw new TokenFormerConfigException($"{source}: field {field} must be an array of numbers"); }
        }
        var c = new VisionConfig
        {
            ImageSize = Int("image_size"), Channels = Int("image_channels"), PatchSize = Int("patch_size"), NumClasses = Int("num_classes"),
            PixelMean = Doubles("pixel_mean"), PixelStd = Doubles("pixel_std"),
        };
        if (o["class_names"] is JsonArray names)
        {
            try { c.ClassNames = names.Select(n => n!.GetValue<string>()).ToArray(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException or NullReferenceException) { throw new TokenFormerConfigException($"{source}: field class_names must be an array of strings"); }
        }
        foreach (string f in VisionFields) o.Remove(f);
        try { c.Blocks = TokenFormerConfig.FromJson(o.ToJsonString(), source); }
        catch (TokenFormerConfigException e) { throw new TokenFormerConfigException(e.Message.StartsWith(source, StringComparison.Ordinal) ? e.Message : $"{source}: {e.Message}"); }
        try { c.Validate(); }
        catch (TokenFormerConfigException e) { throw new TokenFormerConfigException(e.Message.StartsWith(source, StringComparison.Ordinal) ? e.Message : $"{source}: {e.Message}"); }
        return c;
    }

    /// <summary>Loads config.json; errors name the file.</summary>
    public static VisionConfig Load(string path)
    {
        if (!File.Exists(path)) throw new TokenFormerConfigException($"{path}: file not found");
        return FromJson(File.ReadAllText(path), path);
    }
}
