using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using TokenFormer.Core.IO;
using TokenFormer.Model.Growth;

namespace TokenFormer.Model.Adapters;

/// <summary>
/// adapter_config.json of an adapter directory (docs/adapters.md): the tokens appended per Pattention group, which
/// groups were adapted, how the new rows were drawn, and the base model's identity (SHA-256 over its weights,
/// <see cref="Adapter.BaseHash"/>) and config. An adapter applies only to the base with that hash.
/// </summary>
public sealed class AdapterConfig
{
    /// <summary>The file name inside an adapter directory.</summary>
    public const string FileName = "adapter_config.json";
    /// <summary>The value of <see cref="Format"/>.</summary>
    public const string FormatName = "tokenformer-adapter";

    /// <summary>Always <see cref="FormatName"/>.</summary>
    [JsonPropertyName("format")] public string Format { get; set; } = FormatName;
    /// <summary>Format version (1).</summary>
    [JsonPropertyName("version")] public int Version { get; set; } = 1;
    /// <summary>Tokens appended to each Pattention of a group (0 for a group not adapted).</summary>
    [JsonPropertyName("adapter_tokens")] public TokenCounts Tokens { get; set; } = new(0, 0, 0);
    /// <summary>The adapted groups, a subset of qkv, proj, ffn.</summary>
    [JsonPropertyName("projections")] public List<string> Projections { get; set; } = [];
    /// <summary>Lower-case hex SHA-256 of the base model's weights (<see cref="Adapter.BaseHash"/>).</summary>
    [JsonPropertyName("base_sha256")] public string BaseSha256 { get; set; } = "";
    /// <summary>The base model's config.json.</summary>
    [JsonPropertyName("base_config")] public JsonObject BaseConfig { get; set; } = new();
    /// <summary>Seed the new value rows were drawn with.</summary>
    [JsonPropertyName("seed")] public int Seed { get; set; }
    /// <summary>Multiple of the value init standard deviation the new value rows were drawn with.</summary>
    [JsonPropertyName("value_scale")] public double ValueScale { get; set; } = 1;
    /// <summary>Optimiser steps the rows were trained for (0: as initialised).</summary>
    [JsonPropertyName("steps")] public long Steps { get; set; }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    /// <summary>A deep copy.</summary>
    public AdapterConfig Clone() => JsonSerializer.Deserialize<AdapterConfig>(JsonSerializer.Serialize(this, Options), Options)!;

    /// <summary>The base's config as a <see cref="TokenFormerConfig"/>.</summary>
    public TokenFormerConfig BaseModelConfig(string source) => TokenFormerConfig.FromJson(BaseConfig.ToJsonString(), source);

    /// <summary>Writes the file via a temporary file and rename.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Options) + "\n");

    /// <summary>Reads and checks the file; errors name the file and field.</summary>
    public static AdapterConfig Load(string path)
    {
        if (!File.Exists(path)) throw new AdapterFormatException($"{path}: file not found (an adapter directory holds {FileName} and {Adapter.WeightsFile})");
        AdapterConfig? c;
        string text = File.ReadAllText(path);
        try { c = JsonSerializer.Deserialize<AdapterConfig>(text, Options); }
        catch (JsonException e) { throw new AdapterFormatException($"{path}: not valid JSON for an adapter config ({e.Message})"); }
        catch (InvalidOperationException) when (JsonStrings.FirstUndecodable(text) is { } bad) { throw new AdapterFormatException($"{path}: {JsonStrings.Describe(bad)}"); }
        if (c == null) throw new AdapterFormatException($"{path}: empty adapter config");
        if (c.Format != FormatName) throw new AdapterFormatException($"{path}: field 'format' is '{c.Format}', expected '{FormatName}'");
        if (c.Version != 1) throw new AdapterFormatException($"{path}: field 'version' is {c.Version}; this tool reads version 1");
        if (c.Tokens == null || c.Tokens.Qkv < 0 || c.Tokens.Proj < 0 || c.Tokens.Ffn < 0 || c.Tokens.Qkv + c.Tokens.Proj + c.Tokens.Ffn == 0)
            throw new AdapterFormatException($"{path}: field 'adapter_tokens' must give non-negative counts qkv, proj, ffn with at least one positive");
        if (c.BaseSha256 is not { Length: 64 } || !c.BaseSha256.All(Uri.IsHexDigit))
            throw new AdapterFormatException($"{path}: field 'base_sha256' must be 64 hex digits (SHA-256 of the base weights)");
        try { c.BaseModelConfig(path + " field 'base_config'"); }
        catch (TokenFormerConfigException e) { throw new AdapterFormatException(e.Message); }
        catch (InvalidOperationException) when (JsonStrings.FirstUndecodable(text) is { } bad) { throw new AdapterFormatException($"{path}: {JsonStrings.Describe(bad)}"); }
        return c;
    }
}

/// <summary>An adapter directory is missing files or holds rows that do not fit its config or its base; the message names file and key.</summary>
public sealed class AdapterFormatException(string message) : Exception(message);
