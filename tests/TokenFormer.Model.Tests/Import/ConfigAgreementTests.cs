using System.Text.Json.Nodes;
using TokenFormer.Core.PyTorch;
using TokenFormer.Model.Import;

namespace TokenFormer.Model.Tests.Import;

/// <summary>
/// One config reader for every path: a config.json means the same model through <c>import</c> (the release's
/// config.json beside pytorch_model.bin) and as a model directory's config.json — absent fields take one set of
/// defaults, recorded as assumptions, and official fields the model does not implement are refused naming the field
/// on both paths.
/// </summary>
public class ConfigAgreementTests
{
    private static string Fp32(string file) => Path.Combine(Fixtures.Root, "torch", "fp32", file);

    /// <summary>The fp32 fixture's config.json with <paramref name="edit"/> applied to its fields.</summary>
    private static string FixtureConfig(Action<JsonObject> edit)
    {
        var o = JsonNode.Parse(File.ReadAllText(Fp32("config.json")))!.AsObject();
        edit(o);
        return o.ToJsonString();
    }

    private static float[] Logits(TokenFormerModel model)
    {
        int[] ids = [3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26, 43, 38, 32, 79, 50, 28, 84, 19];
        var runner = new ModelRunner(model, 1, ids.Length, training: false);
        runner.Forward(ids);
        return runner.Logits.ToArray();
    }

    /// <summary>Imports the fp32 checkpoint with <paramref name="configJson"/> in memory, as `import` reads it.</summary>
    private static TokenFormerModel Import(string configJson)
    {
        string dir = TempDir.Create();
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson);
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(dir, "config.json"));
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Fp32("pytorch_model.bin"));
        return OfficialCheckpointImporter.Import(ckpt, config);
    }

    /// <summary>A model directory holding the fp32 checkpoint's tensors with <paramref name="configJson"/> as its config.json.</summary>
    private static TokenFormerModel AsModelDirectory(string configJson)
    {
        string dir = TempDir.Create();
        using (TorchCheckpoint ckpt = TorchCheckpoint.Open(Fp32("pytorch_model.bin")))
            ImportedModelWriter.Write(ckpt, OfficialCheckpointImporter.Check(ckpt, OfficialConfigReader.Load(Fp32("config.json"))), dir);
        File.WriteAllText(Path.Combine(dir, ModelDirectory.ConfigFile), configJson);
        return ModelDirectory.Load(dir);
    }

    [Fact]
    public void ConfigWithoutRotaryPctGivesTheSameLogitsThroughImportAndAsAModelDirectory()
    {
        string withoutRotary = FixtureConfig(o => o.Remove("rotary_pct"));
        TokenFormerModel imported = Import(withoutRotary), directory = AsModelDirectory(withoutRotary);
        Assert.Equal(ConfigDefaults.RotaryPct, imported.Config.RotaryPct);
        Assert.Equal(ConfigDefaults.RotaryPct, directory.Config.RotaryPct);
        Assert.Equal(imported.Parameters, directory.Parameters);
        float[] a = Logits(imported), b = Logits(directory);
        Assert.Equal(a, b);

        // both paths say what they assumed, naming the field and the value
        Assert.Contains(imported.Config.Assumptions, s => s.Contains("rotary_pct is absent; assumed 0.25"));
        Assert.Contains(directory.Config.Assumptions, s => s.Contains("rotary_pct is absent; assumed 0.25"));

        // the assumed value is the one the released models use: the fixture (made with rotary_pct 0.25) gives these
        // logits, while NeoX's code default 1.0, stated explicitly, gives other logits on both paths
        Assert.Equal(a, Logits(Import(File.ReadAllText(Fp32("config.json")))));
        string fullRotary = FixtureConfig(o => o["rotary_pct"] = 1.0);
        float[] full = Logits(Import(fullRotary));
        Assert.Equal(full, Logits(AsModelDirectory(fullRotary)));
        Assert.True(a.Zip(full).Max(p => MathF.Abs(p.First - p.Second)) > 1e-3f, "rotary_pct 1.0 should change the logits");
    }

    [Fact]
    public void AStatedFieldIsNotAnAssumption()
    {
        TokenFormerConfig c = OfficialConfigReader.Load(Fp32("config.json"));
        Assert.DoesNotContain(c.Assumptions, s => s.Contains("rotary_pct"));
        Assert.Contains(c.Assumptions, s => s.Contains("layernorm_epsilon is absent; assumed 1E-05") && s.StartsWith(Fp32("config.json")));
        // a saved config states every field, so reading it back assumes nothing
        string dir = TempDir.Create();
        c.Save(Path.Combine(dir, "config.json"));
        Assert.Empty(TokenFormerConfig.Load(Path.Combine(dir, "config.json")).Assumptions);
    }

    [Fact]
    public void MaxPositionEmbeddingsFallsBackToSeqLengthOnEveryPath()
    {
        string json = FixtureConfig(o => { o.Remove("max_position_embeddings"); o["seq_length"] = 48; });
        Assert.Equal(48, OfficialConfigReader.FromJson(json).MaxPositionEmbeddings);
        Assert.Equal(48, TokenFormerConfig.FromJson(json).MaxPositionEmbeddings);
        string neither = FixtureConfig(o => { o.Remove("max_position_embeddings"); o.Remove("seq_length"); });
        Assert.Equal(ConfigDefaults.MaxPositionEmbeddings, TokenFormerConfig.FromJson(neither).MaxPositionEmbeddings);
    }

    [Theory]
    [InlineData("sliding_window_width", "256", "field 'sliding_window_width' is 256")]
    [InlineData("gpt_j_residual", "true", "field 'gpt_j_residual' is true")]
    [InlineData("use_bias_in_attn_linear", "true", "field 'use_bias_in_attn_linear' is true")]
    [InlineData("pos_emb", "\"alibi\"", "field 'pos_emb' is 'alibi'")]
    public void UnimplementedOfficialFieldsAreRefusedOnBothPaths(string field, string value, string expected)
    {
        string json = FixtureConfig(o => o[field] = JsonNode.Parse(value));
        string dir = TempDir.Create();
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, json);
        var import = Assert.Throws<TokenFormerConfigException>(() => OfficialConfigReader.Load(path));
        Assert.Contains(expected, import.Message);
        Assert.StartsWith(path, import.Message);
        var directory = Assert.Throws<TokenFormerConfigException>(() => TokenFormerConfig.Load(path));
        Assert.Equal(import.Message, directory.Message);
    }

    [Fact]
    public void SlidingWindowWidthInAModelDirectoryIsRefusedNamingIt()
    {
        string json = FixtureConfig(o => o["sliding_window_width"] = 128);
        var e = Assert.Throws<ModelFormatException>(() => AsModelDirectory(json));
        Assert.Contains("sliding_window_width", e.Message);
        Assert.Contains("not implemented", e.Message);
        // its implemented value (null, NeoX's default) is accepted and kept with the other unknown fields
        TokenFormerModel ok = AsModelDirectory(FixtureConfig(o => o["sliding_window_width"] = null));
        Assert.Equal(2, ok.Config.NumLayers);
    }
}
