using TokenFormer.Core.PyTorch;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Import;
using Xunit.Abstractions;

namespace TokenFormer.Model.Tests.Import;

/// <summary>
/// The official-format fixtures written by tools/reference/make_torch_checkpoints.py with torch.save (fp32, fp16,
/// bf16, one storage shared by views): import, then forward, must match the float64 PyTorch logits
/// (max|Δ| ≤ 1e-4·max|logit|) and loss (|Δ| ≤ 1e-5); truncation, missing keys and wrong shapes are named.
/// </summary>
public class OfficialCheckpointTests(ITestOutputHelper output)
{
    public static TheoryData<string> Names => new() { "fp32", "fp16", "bf16", "shared_views" };

    private static string Dir(string name) => Path.Combine(Fixtures.Root, "torch", name);
    private static string Bin(string name) => Path.Combine(Dir(name), "pytorch_model.bin");

    private static TokenFormerModel ImportFixture(string name)
    {
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir(name), "config.json"));
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Bin(name));
        return OfficialCheckpointImporter.Import(ckpt, config);
    }

    private (float MaxDiff, float MaxRef, float LossDiff) Compare(TokenFormerModel model, string name)
    {
        using SafeTensorsFile golden = SafeTensorsFile.Open(Path.Combine(Dir(name), "golden.safetensors"));
        int[] ids = golden.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        int[] targets = golden.ReadInt64("targets").Select(x => (int)x).ToArray();
        float[] refLogits = golden.ReadFloat32("logits");
        float refLoss = golden.ReadFloat32("loss")[0];
        var runner = new ModelRunner(model, 1, ids.Length, training: false);
        runner.Forward(ids);
        float[] logits = runner.Logits.ToArray();
        Assert.Equal(refLogits.Length, logits.Length);
        float maxRef = refLogits.Max(MathF.Abs), maxDiff = 0;
        for (int i = 0; i < logits.Length; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(logits[i] - refLogits[i]));
        float loss = runner.Forward(ids, targets);
        return (maxDiff, maxRef, MathF.Abs(loss - refLoss));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ImportedModelMatchesPyTorchLogits(string name)
    {
        TokenFormerModel model = ImportFixture(name);
        var (maxDiff, maxRef, lossDiff) = Compare(model, name);
        output.WriteLine($"{name}: logits max|Δ|/max|ref| = {maxDiff / maxRef:E2}, loss |Δ| = {lossDiff:E2}");
        Assert.True(maxDiff <= 1e-4f * maxRef, $"{name}: logits max|Δ| {maxDiff:E3} > 1e-4·{maxRef:E3}");
        Assert.True(lossDiff <= 1e-5f, $"{name}: loss |Δ| {lossDiff:E3} > 1e-5");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TheImportedModelDirectoryMatchesPyTorchLogits(string name)
    {
        // the path `tokenformer import` takes: tensors copied file to file into model.safetensors, then loaded
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir(name), "config.json"));
        string dir = TempDir.Create();
        using (TorchCheckpoint ckpt = TorchCheckpoint.Open(Bin(name)))
            ImportedModelWriter.Write(ckpt, OfficialCheckpointImporter.Check(ckpt, config), dir);
        var (maxDiff, maxRef, lossDiff) = Compare(ModelDirectory.Load(dir), name);
        output.WriteLine($"{name} via model.safetensors: logits max|Δ|/max|ref| = {maxDiff / maxRef:E2}, loss |Δ| = {lossDiff:E2}");
        Assert.True(maxDiff <= 1e-4f * maxRef, $"{name}: logits max|Δ| {maxDiff:E3} > 1e-4·{maxRef:E3}");
        Assert.True(lossDiff <= 1e-5f, $"{name}: loss |Δ| {lossDiff:E3} > 1e-5");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ImportedModelSurvivesAModelDirectoryRoundTrip(string name)
    {
        TokenFormerModel model = ImportFixture(name);
        string dir = TempDir.Create();
        ModelDirectory.Save(model, dir);
        TokenFormerModel back = ModelDirectory.Load(dir);
        Assert.Equal(model.Parameters, back.Parameters);
        var (maxDiff, maxRef, lossDiff) = Compare(back, name);
        Assert.True(maxDiff <= 1e-4f * maxRef && lossDiff <= 1e-5f);
    }

    [Fact]
    public void SharedStorageFixtureReallySharesOneStorageAndHasStridedViews()
    {
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Bin("shared_views"));
        Assert.Single(ckpt.Storages);
        Assert.Equal(33, ckpt.Tensors.Count);
        Assert.Equal(2, ckpt.Tensors.Count(t => !t.IsContiguous));
        Assert.True(ckpt.Tensors.Select(t => t.StorageOffset).Distinct().Count() == 33);
    }

    [Fact]
    public void FixturesUseTheOfficialKeyOrderAndDtypes()
    {
        using TorchCheckpoint fp32 = TorchCheckpoint.Open(Bin("fp32"));
        var layout = new ParameterLayout(OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "config.json")), 101);
        Assert.Equal(layout.Tensors.Select(t => t.Name).Order(), fp32.Tensors.Select(t => t.Name).Order());
        Assert.Equal("sequential.0.word_embeddings.weight", fp32.Tensors[0].Name);
        Assert.Equal("sequential.5.norm.bias", fp32.Tensors[^1].Name);
        using TorchCheckpoint fp16 = TorchCheckpoint.Open(Bin("fp16"));
        Assert.All(fp16.Tensors, t => Assert.Equal(TorchDType.Float16, t.DType));
        using TorchCheckpoint bf16 = TorchCheckpoint.Open(Bin("bf16"));
        Assert.All(bf16.Tensors, t => Assert.Equal(TorchDType.BFloat16, t.DType));
    }

    [Fact]
    public void OfficialYamlGivesTheSameConfigAsConfigJson()
    {
        TokenFormerConfig json = OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "config.json"));
        TokenFormerConfig yaml = OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "official.yml"));
        Assert.Equal(json.ToJson(), yaml.ToJson());
        Assert.Equal(2, yaml.NumLayers);
        Assert.Equal(48, yaml.FfnSlotNum);
    }

    [Fact]
    public void TruncatedArchiveGivesAClearError()
    {
        byte[] full = File.ReadAllBytes(Bin("fp32"));
        string dir = TempDir.Create();
        foreach (int keep in new[] { 0, 3, 100, full.Length / 3, full.Length / 2, full.Length - 200, full.Length - 23, full.Length - 1 })
        {
            string path = Path.Combine(dir, $"cut{keep}.bin");
            File.WriteAllBytes(path, full[..keep]);
            var e = Assert.Throws<PyTorchFormatException>(() => { using var _ = TorchCheckpoint.Open(path); });
            Assert.Contains(path, e.Message);
            Assert.True(e.Message.Contains("truncated") || e.Message.Contains("too short"), e.Message);
        }
    }

    [Fact]
    public void StorageMemberCutShortIsNamed()
    {
        // rewrite the archive with storage 5 one float short: the pickle's numel no longer matches the member
        string dir = TempDir.Create();
        string path = Path.Combine(dir, "short.bin");
        using (var src = System.IO.Compression.ZipFile.OpenRead(Bin("fp32")))
        {
            var members = src.Entries.ToDictionary(e => e.FullName, e => { using var s = e.Open(); var m = new MemoryStream(); s.CopyTo(m); return m.ToArray(); });
            byte[] pkl = members["pytorch_model/data.pkl"];
            var storages = members.Where(kv => kv.Key.StartsWith("pytorch_model/data/", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key["pytorch_model/data/".Length..], kv => kv.Key.EndsWith("/5", StringComparison.Ordinal) ? kv.Value[..^4] : kv.Value);
            File.Move(TorchArchiveBuilder.Write(pkl, storages, dir), path);
        }
        var e = Assert.Throws<PyTorchFormatException>(() => { using var _ = TorchCheckpoint.Open(path); });
        Assert.Contains("storage '5'", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingKeysAreNamed()
    {
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "config.json"));
        config.NumLayers = 3;
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Bin("fp32"));
        var e = Assert.Throws<ModelFormatException>(() => OfficialCheckpointImporter.Check(ckpt, config));
        Assert.Contains(Bin("fp32"), e.Message);
        Assert.Contains("missing tensor(s): 'sequential.4.attention.query.key_param_tokens' [24, 32]", e.Message);
        Assert.Contains("unexpected tensor(s): 'sequential.5.norm.weight' [32]", e.Message);
        Assert.Contains("2 layer(s)", e.Message);
    }

    [Fact]
    public void WrongShapesAreNamed()
    {
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "config.json"));
        config.FfnSlotNum = 50;
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Bin("fp32"));
        var e = Assert.Throws<ModelFormatException>(() => OfficialCheckpointImporter.Check(ckpt, config));
        Assert.Contains("'sequential.2.mlp.key_param_tokens' is [48, 32], expected [50, 32]", e.Message);
        Assert.Contains("'sequential.3.mlp.value_param_tokens' is [48, 32], expected [50, 32]", e.Message);

        config = OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "config.json"));
        config.HiddenSize = 64;
        var e2 = Assert.Throws<ModelFormatException>(() => OfficialCheckpointImporter.Check(ckpt, config));
        Assert.Contains("'sequential.0.word_embeddings.weight' has shape [101, 32] but the config (hidden_size 64) expects [vocab, 64]", e2.Message);
    }

    [Fact]
    public void UnexpectedKeyIsNamedAndInvFreqIsIgnored()
    {
        // a copy of the fp32 state dict with one extra tensor: rebuilt through the hand-made pickle writer
        var p = new PickleBuilder().Proto().OrderedDict().Mark()
            .Unicode("sequential.0.word_embeddings.weight").Tensor("0", 8, 0, [4, 2], [2, 1])
            .Unicode("sequential.2.attention.rotary_emb.inv_freq").Tensor("1", 1, 0, [1], [1])
            .Unicode("sequential.2.attention.dense.weight").Tensor("1", 1, 0, [1], [1])
            .SetItems().Stop();
        string path = TorchArchiveBuilder.Write(p.ToArray(), new Dictionary<string, byte[]>
        {
            ["0"] = TorchArchiveBuilder.Floats(1, 2, 3, 4, 5, 6, 7, 8), ["1"] = TorchArchiveBuilder.Floats(1),
        });
        var config = new TokenFormerConfig { NumLayers = 1, HiddenSize = 2, NumAttentionHeads = 1, QkvSlotNum = 2, ProjSlotNum = 2, FfnSlotNum = 2, RotaryPct = 0 };
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(path);
        var e = Assert.Throws<ModelFormatException>(() => OfficialCheckpointImporter.Check(ckpt, config));
        Assert.Contains("unexpected tensor(s): 'sequential.2.attention.dense.weight' [1]", e.Message);
        Assert.DoesNotContain("inv_freq' [1]", e.Message);
    }

    [Fact]
    public void PresetIsSuggestedOnlyWhenShapesMatch()
    {
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Bin("fp32"));
        Assert.Null(OfficialCheckpointImporter.MatchPreset(ckpt));
    }
}
