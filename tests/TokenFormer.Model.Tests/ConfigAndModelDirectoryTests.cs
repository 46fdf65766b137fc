using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Model.Tests;

/// <summary>config.json (official names, unknown fields kept, validation), presets and strict model-directory loading.</summary>
public class ConfigAndModelDirectoryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tf-model-" + Guid.NewGuid().ToString("N"));

    public ConfigAndModelDirectoryTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string OfficialStyle = """
        {
          "architectures": ["TokenFormerForCausalLM"],
          "num_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
          "qkv_slot_num": 768, "proj_slot_num": 768, "ffn_slot_num": 3072,
          "seq_length": 2048, "max_position_embeddings": 2048, "pos_emb": "rotary", "rotary_pct": 0.25,
          "norm": "layernorm_nonparam", "final_norm": "layernorm", "norm_activation_type": "l2_norm_gelu",
          "torch_dtype": "float16", "attention_config": [[["tokenformer"], 12]]
        }
        """;

    [Fact]
    public void OfficialConfigLoadsAndUnknownFieldsSurviveARoundTrip()
    {
        TokenFormerConfig c = TokenFormerConfig.FromJson(OfficialStyle);
        c.Validate();
        Assert.Equal(12, c.NumLayers);
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(16, c.RotaryDim);
        Assert.Equal(1e-5, c.LayerNormEpsilon);
        Assert.Equal(10000, c.RotaryEmbBase);
        Assert.Null(c.VocabSize);
        Assert.Equal(Math.Sqrt(3072), c.ScaleFfn);
        Assert.Equal(151_881_216, c.ParameterCount(50304));
        string json = c.ToJson();
        Assert.Contains("\"torch_dtype\": \"float16\"", json);
        Assert.Contains("\"attention_config\"", json);
        Assert.DoesNotContain("vocab_size", json);
        TokenFormerConfig back = TokenFormerConfig.FromJson(json);
        Assert.Equal(json, back.ToJson());
    }

    [Theory]
    [InlineData("\"hidden_size\": 768, \"num_attention_heads\": 12", "\"hidden_size\": 770, \"num_attention_heads\": 12", "divisible by num_attention_heads")]
    [InlineData("\"rotary_pct\": 0.25", "\"rotary_pct\": 0.3", "must be even")]
    [InlineData("\"norm_activation_type\": \"l2_norm_gelu\"", "\"norm_activation_type\": \"relu\"", "norm_activation_type")]
    [InlineData("\"qkv_slot_num\": 768, ", "", "qkv_slot_num")]
    public void InconsistentConfigsFailNamingTheField(string from, string to, string expected)
    {
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, OfficialStyle.Replace(from, to));
        var e = Assert.Throws<TokenFormerConfigException>(() => TokenFormerConfig.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void PresetsHaveTheOfficialParameterCounts()
    {
        Assert.Equal(151_881_216, TokenFormerPresets.Get("150m").ParameterCount());
        Assert.Equal(454_166_528, TokenFormerPresets.Get("450m").ParameterCount());
        Assert.Equal(903_252_480, TokenFormerPresets.Get("900m").ParameterCount());
        Assert.Equal(1_587_219_456, TokenFormerPresets.Get("1.5b").ParameterCount());
        Assert.InRange(TokenFormerPresets.Get("micro").ParameterCount(), 800_000, 1_300_000);
        Assert.InRange(TokenFormerPresets.Get("tiny").ParameterCount(), 4_000_000, 7_000_000);
        Assert.InRange(TokenFormerPresets.Get("small").ParameterCount(), 20_000_000, 32_000_000);
        foreach (var p in TokenFormerPresets.All) p.Create().Validate();
        Assert.Throws<TokenFormerConfigException>(() => TokenFormerPresets.Get("nope"));
    }

    private static TokenFormerModel SmallModel()
    {
        var c = TokenFormerPresets.Get("micro");
        c.NumLayers = 1; c.HiddenSize = 16; c.NumAttentionHeads = 2; c.QkvSlotNum = 6; c.ProjSlotNum = 5; c.FfnSlotNum = 9; c.VocabSize = 11;
        var m = new TokenFormerModel(c);
        m.InitializeRandom(7);
        return m;
    }

    [Fact]
    public void ModelDirectoryRoundTripsWithOfficialKeys()
    {
        TokenFormerModel m = SmallModel();
        ModelDirectory.Save(m, _dir);
        using (var f = SafeTensorsFile.Open(Path.Combine(_dir, ModelDirectory.WeightsFile)))
        {
            Assert.Equal(13, f.Tensors.Count); // 10·L + 3
            Assert.True(f.Contains("sequential.0.word_embeddings.weight"));
            Assert.True(f.Contains("sequential.2.attention.query.key_param_tokens"));
            Assert.True(f.Contains("sequential.2.mlp.value_param_tokens"));
            Assert.True(f.Contains("sequential.4.norm.weight"));
            Assert.Equal(new long[] { 9, 16 }, f.Get("sequential.2.mlp.key_param_tokens").Shape);
        }
        TokenFormerModel back = ModelDirectory.Load(_dir);
        Assert.Equal(m.Parameters, back.Parameters);
        Assert.Equal(11, back.Vocab);
        Assert.All(back.Tensor("sequential.4.norm.weight").ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void VocabularyComesFromTheEmbeddingWhenAbsent()
    {
        TokenFormerModel m = SmallModel();
        m.Config.VocabSize = null;
        m.Config.Save(Path.Combine(_dir, "unused.json"));
        m.Config.VocabSize = 11;
        ModelDirectory.Save(m, _dir);
        TokenFormerConfig c = TokenFormerConfig.Load(Path.Combine(_dir, "config.json"));
        c.VocabSize = null;
        c.Save(Path.Combine(_dir, "config.json"));
        Assert.Equal(11, ModelDirectory.Load(_dir).Vocab);
    }

    [Fact]
    public void MissingOrMisshapedTensorsNameTheKeyAndBothShapes()
    {
        TokenFormerModel m = SmallModel();
        ModelDirectory.Save(m, _dir);
        string weights = Path.Combine(_dir, ModelDirectory.WeightsFile);

        // mis-shaped: proj keys saved as [4, 16] where the config says [5, 16]
        var w = new SafeTensorsWriter();
        foreach (ParameterTensor t in m.Layout.Tensors)
        {
            bool bad = t.Name == "sequential.2.attention.proj.key_param_tokens";
            w.AddFloat32(t.Name, m.Parameters.AsMemory(t.Offset, bad ? 4 * 16 : t.Length), bad ? [4, 16] : t.Shape.Select(x => (long)x).ToArray());
        }
        w.Save(weights);
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(_dir));
        Assert.Contains("'sequential.2.attention.proj.key_param_tokens'", e.Message);
        Assert.Contains("[4, 16]", e.Message);
        Assert.Contains("[5, 16]", e.Message);

        // missing
        w = new SafeTensorsWriter();
        foreach (ParameterTensor t in m.Layout.Tensors.Where(t => !t.Name.EndsWith("norm.bias")))
            w.AddFloat32(t.Name, m.Parameters.AsMemory(t.Offset, t.Length), t.Shape.Select(x => (long)x).ToArray());
        w.Save(weights);
        e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(_dir));
        Assert.Contains("missing tensor(s): 'sequential.4.norm.bias' [16]", e.Message);
        Assert.Contains("[16]", e.Message);

        // embedding width disagrees with hidden_size
        w = new SafeTensorsWriter();
        w.AddFloat32("sequential.0.word_embeddings.weight", new float[11 * 8], 11, 8);
        w.Save(weights);
        e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(_dir));
        Assert.Contains("[11, 8]", e.Message);
        Assert.Contains("16", e.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(WeightFormat.Int8)]
    [InlineData(WeightFormat.BFloat16)]
    public void AConfigFarLargerThanItsFile_IsRefusedBeforeAnythingIsAllocated(WeightFormat? format)
    {
        TokenFormerModel m = SmallModel();
        if (format is { } f) m = new TokenFormerModel(m.Config.Clone(), ReducedPrecisionWeights.From(m, f));
        ModelDirectory.Save(m, _dir);
        string configPath = Path.Combine(_dir, ModelDirectory.ConfigFile);
        TokenFormerConfig c = TokenFormerConfig.Load(configPath);

        // about 1.2e9 parameters (4.6 GiB of float32) declared for a file of a few kilobytes: the layout is compared with
        // the file before the parameters are allocated
        c.NumLayers = 64; c.FfnSlotNum = 600_000;
        c.Save(configPath);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(_dir));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20, "the declared parameters were allocated before the refusal");
        // float32: the layout's mlp tokens have another shape; bf16 / int8: the final norm's key moved to layer 66
        Assert.StartsWith(Path.Combine(_dir, ModelDirectory.WeightsFile), e.Message);
        Assert.Contains(format is null ? "expected [600000, 16]" : "'sequential.4.norm.bias' is not part of", e.Message);

        // more parameters than one array holds: an error naming config.json, not an unhandled config exception
        c.FfnSlotNum = 40_000_000;
        c.Save(configPath);
        e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(_dir));
        Assert.StartsWith(configPath + ":", e.Message);
        Assert.Contains("more than one float array can hold", e.Message);
    }

    [Fact]
    public void InitialisationFollowsTheOfficialScales()
    {
        var c = TokenFormerPresets.Get("tiny");
        var m = new TokenFormerModel(c);
        m.InitializeRandom(1);
        static double Std(ReadOnlySpan<float> s) { double q = 0; foreach (float v in s) q += v * v; return Math.Sqrt(q / s.Length); }
        Assert.InRange(Std(m.Tensor("sequential.0.word_embeddings.weight")), 0.0195, 0.0205);
        Assert.InRange(Std(m.Tensor("sequential.3.mlp.key_param_tokens")), 0.0195, 0.0205);
        double wang = 2 / (4 * Math.Sqrt(256));
        Assert.InRange(Std(m.Tensor("sequential.3.mlp.value_param_tokens")), wang * 0.97, wang * 1.03);
        Assert.All(m.Tensor("sequential.7.norm.bias").ToArray(), v => Assert.Equal(0f, v));
    }
}
