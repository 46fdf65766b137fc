using TokenFormer.Core.SafeTensors;
using TokenFormer.Model;
using TokenFormer.Model.Adapters;

namespace TokenFormer.Cli.Tests;

/// <summary>
/// The adapter verbs end to end (docs/adapters.md): <c>finetune</c> writes an adapter directory holding only the new rows
/// and its config, resumes exactly (a split run writes the same rows as a straight one), leaves the base untouched;
/// <c>merge</c> writes a plain model; <c>generate</c>/<c>forward</c> with <c>--adapter</c> equal the merged model; another
/// base is refused naming both hashes; bad arguments are one-line errors.
/// </summary>
public class AdapterCliTests
{
    private static readonly string[] Common = ["--batch", "2", "--seq", "16", "--warmup", "1", "--lr", "3e-3", "--eval-every", "2", "--eval-windows", "3", "--threads", "1"];

    private static (int Code, string Out, string Err) Ok(params string[] args)
    {
        var r = Fixtures.RunCli(args);
        Assert.True(r.Code == 0, $"tokenformer {string.Join(' ', args)}: {r.Err}");
        return r;
    }

    private static float[] Logits(string file)
    {
        using SafeTensorsFile f = SafeTensorsFile.Open(file);
        return f.ReadFloat32("logits");
    }

    [Fact]
    public void Finetune_Resume_Merge_Generate_Forward_AndAnotherBase()
    {
        string dir = Fixtures.TempDir("adapter-cli");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string run = Path.Combine(dir, "base-run");
        Ok(["train", "--data", data, "--config", config, "--out", run, "--steps", "4", "--save-every", "4", .. Common]);
        string baseDir = Path.Combine(run, "checkpoints", "step-4");
        byte[] baseWeights = File.ReadAllBytes(Path.Combine(baseDir, ModelDirectory.WeightsFile));

        string[] finetune = ["finetune", "--from", baseDir, "--adapter-tokens", "4", "--projections", "qkv,ffn", "--data", data, "--steps", "4", "--save-every", "2", .. Common];
        string straight = Path.Combine(dir, "straight"), split = Path.Combine(dir, "split");
        var r = Ok([.. finetune, "--out", straight]);
        Assert.Contains("trainable parameters", r.Out);
        Assert.Equal(new[] { "adapter.safetensors", "adapter_config.json" }, Directory.GetFiles(straight).Select(Path.GetFileName).Order().ToArray());
        Ok([.. finetune, "--out", split, "--stop-at", "2"]);
        Assert.Equal(2, Adapter.Load(split).Config.Steps);
        Ok(["finetune", "--from", baseDir, "--data", data, "--out", split, "--resume", "--threads", "1"]);
        Adapter a = Adapter.Load(straight), b = Adapter.Load(split);
        Assert.Equal(4, a.Config.Steps);
        Assert.Equal(4, b.Config.Steps);
        foreach (string key in new[] { ParameterLayout.LayerKey(0, "attention.key.key_param_tokens"), ParameterLayout.LayerKey(0, "mlp.value_param_tokens") })
        {
            Assert.True(a.Rows(key).Length == 4 * 32, key);
            Assert.Equal(a.Rows(key).ToArray(), b.Rows(key).ToArray());
        }
        Assert.True(a.Rows(ParameterLayout.LayerKey(0, "attention.proj.key_param_tokens")).IsEmpty);
        Assert.Equal(baseWeights, File.ReadAllBytes(Path.Combine(baseDir, ModelDirectory.WeightsFile)));

        string merged = Path.Combine(dir, "merged");
        Ok("merge", "--model", baseDir, "--adapter", straight, "--out", merged);
        Assert.Equal(36, TokenFormerConfig.Load(Path.Combine(merged, ModelDirectory.ConfigFile)).QkvSlotNum);
        string viaAdapter = Ok("generate", "--model", baseDir, "--adapter", straight, "--prompt", "The", "--temperature", "0", "--max-new-tokens", "12", "--json").Out;
        string viaMerged = Ok("generate", "--model", merged, "--prompt", "The", "--temperature", "0", "--max-new-tokens", "12", "--json").Out;
        Assert.Equal(viaMerged, viaAdapter);

        string fa = Path.Combine(dir, "fa.safetensors"), fm = Path.Combine(dir, "fm.safetensors");
        Ok("forward", "--model", baseDir, "--adapter", straight, "--ids", "1,2,3,4,5", "--out", fa);
        Ok("forward", "--model", merged, "--ids", "1,2,3,4,5", "--out", fm);
        Assert.Equal(Logits(fm), Logits(fa));
        string evalBase = Ok("eval", "--model", baseDir, "--data", data, "--seq", "16").Out;
        string evalAdapter = Ok("eval", "--model", baseDir, "--adapter", straight, "--data", data, "--seq", "16").Out;
        static string Loss(string line) => System.Text.RegularExpressions.Regex.Match(line, @"\| loss ([0-9.]+)").Groups[1].Value;
        Assert.NotEqual("", Loss(evalAdapter));
        Assert.NotEqual(Loss(evalBase), Loss(evalAdapter));

        // another base: the step-2 checkpoint of the same run
        string other = Path.Combine(dir, "other-base");
        Ok(["train", "--data", data, "--config", config, "--out", other, "--steps", "2", .. Common]);
        r = Fixtures.RunCli("merge", "--model", other, "--adapter", straight, "--out", Path.Combine(dir, "nope"));
        Assert.Equal(1, r.Code);
        Assert.Contains(a.Config.BaseSha256, r.Err);
        Assert.Contains("sha256", r.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "nope")));

        Assert.Contains("--adapter-tokens K is required", Fixtures.RunCli("finetune", "--from", baseDir, "--data", data, "--out", Path.Combine(dir, "z")).Err);
        Assert.Contains("unknown projection 'mlp'", Fixtures.RunCli("finetune", "--from", baseDir, "--data", data, "--out", Path.Combine(dir, "z"), "--adapter-tokens", "2", "--projections", "qkv,mlp").Err);
        Assert.Contains("already holds an adapter", Fixtures.RunCli([.. finetune, "--out", straight]).Err);
    }
}
