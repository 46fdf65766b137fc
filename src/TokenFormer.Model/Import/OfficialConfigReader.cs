namespace TokenFormer.Model.Import;

/// <summary>
/// Reads the configs the official TokenFormer releases come with — the Hub <c>config.json</c> (the NeoX fields plus
/// <c>architectures</c>/<c>torch_dtype</c>), the official YAML configs (<c>configs/tokenformer/*.yml</c>, comments
/// included) — and this project's own config.json, for <c>import</c>. It is <see cref="ConfigReader"/> (one set of
/// defaults and refusals for every path: <see cref="ConfigDefaults"/>) with the fields the model does not use
/// dropped: a release's training settings do not describe the imported model directory.
/// </summary>
public static class OfficialConfigReader
{
    /// <summary>Reads a .json, .yml or .yaml config file (by extension; otherwise by content).</summary>
    public static TokenFormerConfig Load(string path) => ConfigReader.Load(path, keepUnknownFields: false);

    /// <summary>Parses config.json text.</summary>
    public static TokenFormerConfig FromJson(string json, string source = "config.json") =>
        ConfigReader.FromJson(json, source, keepUnknownFields: false);

    /// <summary>Parses official YAML config text.</summary>
    public static TokenFormerConfig FromYaml(string yaml, string source = "config.yml") =>
        ConfigReader.FromYaml(yaml, source, keepUnknownFields: false);

    /// <summary>Maps a parsed mapping of official fields to a validated config (vocab_size left null unless given).</summary>
    public static TokenFormerConfig FromFields(object? root, string source) => ConfigReader.FromFields(root, source);
}
