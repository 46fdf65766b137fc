using TokenFormer.Core.SafeTensors;

namespace TokenFormer.Model;

/// <summary>
/// A model directory: <c>config.json</c> (official field names) + <c>model.safetensors</c> (official key names,
/// F32/F16/BF16 accepted on load, F32 written). Loading is strict: every expected tensor must be present with the
/// shape the config implies, and no unknown tensor may be present; errors name the file, key and both shapes.
/// </summary>
public static class ModelDirectory
{
    /// <summary>Config file name.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>Weights file name.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>Loads a model directory.</summary>
    public static TokenFormerModel Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new ModelFormatException($"{directory}: model directory not found");
        string configPath = Path.Combine(directory, ConfigFile);
        string weightsPath = Path.Combine(directory, WeightsFile);
        TokenFormerConfig config;
        try { config = TokenFormerConfig.Load(configPath); }
        catch (TokenFormerConfigException e) { throw new ModelFormatException(e.Message); }
        if (!File.Exists(weightsPath)) throw new ModelFormatException($"{weightsPath}: file not found");
        Architecture.WeightFormat format;
        try { format = Architecture.WeightFormats.Of(config, configPath); }
        catch (TokenFormerConfigException e) { throw new ModelFormatException(e.Message); }
        // bf16 / int8 weights (docs/quantization.md): the model's stack reads them in place of the float32 arena
        if (format != Architecture.WeightFormat.Float32) return ReducedPrecisionDirectory.Load(weightsPath, config, format, configPath);
        using SafeTensorsFile file = OpenWeights(weightsPath);
        const string embKey = "sequential.0.word_embeddings.weight";
        if (!file.Contains(embKey)) throw new ModelFormatException($"{weightsPath}: tensor '{embKey}' is missing");
        SafeTensorInfo emb = file.Get(embKey);
        if (emb.Shape.Length != 2 || emb.Shape[1] != config.HiddenSize)
            throw new ModelFormatException(
                $"{weightsPath}: tensor '{embKey}' has shape {emb.ShapeText} but the config expects [vocab, {config.HiddenSize}]");
        if (config.VocabSize is int v && v != emb.Shape[0])
            throw new ModelFormatException(
                $"{weightsPath}: tensor '{embKey}' has shape {emb.ShapeText} but config.json vocab_size {v} expects [{v}, {config.HiddenSize}]");
        config.VocabSize = checked((int)emb.Shape[0]);
        // the file must hold every tensor of the layout before the parameters are allocated: a config.json that
        // declares far more parameters than the file holds would otherwise allocate them first
        ParameterLayout layout = Layout(config, configPath);
        LayoutMismatch mismatch = LayoutMismatch.Compare(layout, file.Tensors.Select(t => (t.Name, t.Shape)));
        if (!mismatch.IsEmpty)
            throw new ModelFormatException($"{weightsPath} does not fit the {config.NumLayers}-layer TokenFormer of its {ConfigFile}: {mismatch.Describe()}");
        var model = new TokenFormerModel(config);
        foreach (ParameterTensor t in model.Layout.Tensors)
        {
            try { file.ReadFloat32(t.Name, model.Parameters.AsSpan(t.Offset, t.Length)); }
            catch (SafeTensorsFormatException e) { throw new ModelFormatException(e.Message); }
        }
        return model;
    }

    /// <summary>
    /// The parameter layout of <paramref name="config"/> (vocab_size set), its limits checked; a config whose sizes are
    /// out of range (e.g. more parameters than one array holds) is a <see cref="ModelFormatException"/> naming the file.
    /// </summary>
    internal static ParameterLayout Layout(TokenFormerConfig config, string configPath)
    {
        try
        {
            config.Validate();
            return new ParameterLayout(config, config.Vocab);
        }
        catch (TokenFormerConfigException e) { throw new ModelFormatException($"{configPath}: {e.Message}"); }
    }

    private static SafeTensorsFile OpenWeights(string path)
    {
        try { return SafeTensorsFile.Open(path); }
        catch (SafeTensorsFormatException e) { throw new ModelFormatException(e.Message); }
    }

    /// <summary>Writes config.json and model.safetensors (each via a temporary file and rename).</summary>
    public static void Save(TokenFormerModel model, string directory)
    {
        if (model.ReducedWeights != null) { ReducedPrecisionDirectory.Save(model, directory); return; }
        Directory.CreateDirectory(directory);
        var writer = new SafeTensorsWriter();
        foreach (ParameterTensor t in model.Layout.Tensors)
            writer.AddFloat32(t.Name, model.Parameters.AsMemory(t.Offset, t.Length), t.Shape.Select(x => (long)x).ToArray());
        writer.Save(Path.Combine(directory, WeightsFile));
        model.Config.Save(Path.Combine(directory, ConfigFile));
    }
}

/// <summary>A model directory is missing files or holds tensors that do not fit its config; the message names file and key.</summary>
public sealed class ModelFormatException(string message) : Exception(message);
