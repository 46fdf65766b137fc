using TokenFormer.Model.Import;

namespace TokenFormer.Model.Tests.Import;

/// <summary>The official config formats: Hub config.json, NeoX YAML (flow and block style, comments), refusals.</summary>
public class OfficialConfigReaderTests
{
    private const string Official150mYaml = """
        # GPT-2 pretraining setup
        {
          "pipe_parallel_size": 1,
          "num_layers": 12,
          "hidden_size": 768,
          "num_attention_heads": 12,
          "qkv_slot_num": 768,
          "proj_slot_num": 768,
          "ffn_slot_num": 3072,
          "seq_length": 2048,
          "max_position_embeddings": 2048,
          "pos_emb": "rotary",
          "rotary_pct": 0.25,
          "no_weight_tying": false,
          "norm": "layernorm_nonparam",
          "final_norm": "layernorm",
          "attention_config": [[["tokenformer"], 12]],
          "norm_activation_type": "l2_norm_gelu", # "l2_norm_gelu", "gelu_l2_norm", "softmax"

          # these should provide some speedup but takes a while to build, set to true if desired
          "scaled_upper_triang_masked_softmax_fusion": false,
          "optimizer": {
            "type": "Adam",
            "params": { "lr": 0.0006, "betas": [0.9, 0.95], "eps": 1.0e-8 }
          },
          "min_lr": 0.00006,
          "train_micro_batch_size_per_gpu": 32, # 8 GPUs, each GPU card has the batch size 32x4=128, total is 1024.
          "checkpoint_validation_with_forward_pass": False,
          "adlr_autoresume": True,
          "tokenizer-type": "HFTokenizer",
          "vocab-file": "./tokenizer.json", # from GPT-NeoX 20B
          "wandb_host": "https://api.wandb.ai",
        }
        """;

    [Fact]
    public void OfficialFlowYamlWithCommentsMatchesThe150mPreset()
    {
        TokenFormerConfig c = OfficialConfigReader.FromYaml(Official150mYaml, "150M_eval.yml");
        TokenFormerConfig preset = TokenFormerPresets.Get("150m");
        preset.VocabSize = null;
        Assert.Equal(preset.ToJson(), c.ToJson());
    }

    [Fact]
    public void YamlValuesAreTyped()
    {
        var root = (Dictionary<string, object?>)YamlSubsetReader.Parse(Official150mYaml)!;
        Assert.Equal(12L, root["num_layers"]);
        Assert.Equal(6e-5, root["min_lr"]);
        Assert.Equal(false, root["checkpoint_validation_with_forward_pass"]);
        Assert.Equal(true, root["adlr_autoresume"]);
        Assert.Equal("https://api.wandb.ai", root["wandb_host"]);
        var opt = (Dictionary<string, object?>)root["optimizer"]!;
        var pars = (Dictionary<string, object?>)opt["params"]!;
        Assert.Equal(1e-8, pars["eps"]);
        Assert.Equal(new List<object?> { 0.9, 0.95 }, pars["betas"]);
    }

    [Fact]
    public void BlockStyleYamlIsRead()
    {
        const string yaml = """
            # block style, as some NeoX configs are written
            num-layers: 2   # dashes read as underscores
            hidden_size: 32
            num_attention_heads: 2
            qkv_slot_num: 24
            proj_slot_num: 16
            ffn_slot_num: 48
            rotary_pct: 0.25
            norm: layernorm_nonparam
            attention_config:
              - [[tokenformer], 2]
            optimizer:
              type: Adam
              params:
                lr: 6.0e-4
            seq_length: 128
            """;
        TokenFormerConfig c = OfficialConfigReader.FromYaml(yaml);
        Assert.Equal(2, c.NumLayers);
        Assert.Equal(128, c.MaxPositionEmbeddings);
        Assert.Equal(0.25, c.RotaryPct);
        var root = (Dictionary<string, object?>)YamlSubsetReader.Parse(yaml)!;
        Assert.Equal(6e-4, ((Dictionary<string, object?>)((Dictionary<string, object?>)root["optimizer"]!)["params"]!)["lr"]);
    }

    [Fact]
    public void HubConfigJsonIsRead()
    {
        const string json = """
            { "architectures": ["TokenFormerForCausalLM"], "num_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
              "qkv_slot_num": 768, "proj_slot_num": 768, "ffn_slot_num": 3072, "max_position_embeddings": 2048,
              "rotary_pct": 0.25, "norm_activation_type": "l2_norm_gelu", "torch_dtype": "float16", "vocab_size": 50304 }
            """;
        TokenFormerConfig c = OfficialConfigReader.FromJson(json);
        Assert.Equal(TokenFormerPresets.Get("150m").ToJson(), c.ToJson());
    }

    [Theory]
    [InlineData("\"pos_emb\": \"learned\"", "field 'pos_emb' is 'learned'")]
    [InlineData("\"norm\": \"rmsnorm\"", "field 'norm' is 'rmsnorm'")]
    [InlineData("\"no_weight_tying\": true", "field 'no_weight_tying' is true")]
    [InlineData("\"gpt_j_residual\": True", "field 'gpt_j_residual' is true")]
    [InlineData("\"attention_config\": [[[\"global\"], 2]]", "attention_config names 'global'")]
    [InlineData("\"norm_activation_type\": \"relu\"", "norm_activation_type 'relu'")]
    [InlineData("\"hidden_size\": 30", "hidden_size (30) must be divisible by num_attention_heads (4)")]
    public void UnsupportedArchitectureFieldsAreRefused(string field, string expected)
    {
        string yaml = "{ \"num_layers\": 2, \"num_attention_heads\": 4, \"qkv_slot_num\": 8, \"proj_slot_num\": 8, \"ffn_slot_num\": 8, "
            + (field.Contains("hidden_size") ? "" : "\"hidden_size\": 32, ") + field + " }";
        var e = Assert.Throws<TokenFormerConfigException>(() => OfficialConfigReader.FromYaml(yaml, "x.yml"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("x.yml: ", e.Message);
    }

    [Fact]
    public void MissingRequiredFieldAndBadSyntaxNameTheFileAndLine()
    {
        var e = Assert.Throws<TokenFormerConfigException>(() => OfficialConfigReader.FromYaml("{ \"num_layers\": 2 }", "a.yml"));
        Assert.Contains("a.yml: required field 'hidden_size' is missing", e.Message);
        var e2 = Assert.Throws<TokenFormerConfigException>(() => OfficialConfigReader.FromYaml("{\n  \"num_layers\": 2\n  \"hidden_size\": 3\n}", "b.yml"));
        Assert.Contains("b.yml line 3", e2.Message);
    }
}
