using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;

namespace TokenFormer.Cli.Tests;

/// <summary>The <c>grow</c> and <c>train --init-from</c> verbs: both growth modes, <c>--freeze-old</c>, and clear errors for bad arguments.</summary>
public class GrowCliTests
{
    [Fact]
    public void Cli_GrowAndInitFrom_WorkAndGiveClearErrors()
    {
        string dir = Fixtures.TempDir("cli-grow");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string run = Path.Combine(dir, "run");
        string[] common = ["--batch", "2", "--seq", "16", "--warmup", "1", "--eval-every", "2", "--eval-windows", "4", "--threads", "1"];
        var r = Fixtures.RunCli(["train", "--data", data, "--config", config, "--out", run, "--steps", "2", .. common]);
        Assert.True(r.Code == 0, r.Err);

        // grow from the run directory (its newest checkpoint), both modes
        string grown = Path.Combine(dir, "grown");
        r = Fixtures.RunCli("grow", "--from", run, "--out", grown, "--factor", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("mode preserve", r.Out);
        Assert.True(File.Exists(Path.Combine(grown, "tokenizer.json")), "grow copies tokenizer.json");
        TokenFormerModel g = ModelDirectory.Load(grown);
        Assert.Equal(64, g.Config.QkvSlotNum);
        Assert.Equal(128, g.Config.FfnSlotNum);
        Assert.Equal("preserve", GrowthLineage.Last(g.Config)!.Mode);
        r = Fixtures.RunCli("grow", "--from", run, "--out", Path.Combine(dir, "grown-off"), "--ffn-tokens", "100", "--mode", "official", "--seed", "3");
        Assert.True(r.Code == 0, r.Err);
        TokenFormerModel off = ModelDirectory.Load(Path.Combine(dir, "grown-off"));
        Assert.Equal((32, 32, 100), (off.Config.QkvSlotNum, off.Config.ProjSlotNum, off.Config.FfnSlotNum));
        Assert.Null(off.Config.PattentionScaleFfn);

        // bad grow arguments
        (int Code, string Out, string Err) Fails(params string[] args)
        {
            var res = Fixtures.RunCli(args);
            Assert.True(res.Code == 1, $"expected exit 1 for {string.Join(' ', args)}; got {res.Code}: {res.Err}");
            return res;
        }
        Assert.Contains("give the new size", Fails("grow", "--from", run, "--out", Path.Combine(dir, "x1")).Err);
        Assert.Contains("either --factor or", Fails("grow", "--from", run, "--out", Path.Combine(dir, "x2"), "--factor", "2", "--ffn-tokens", "90").Err);
        Assert.Contains("--factor must be a number greater than 1", Fails("grow", "--from", run, "--out", Path.Combine(dir, "x3"), "--factor", "0.5").Err);
        Assert.Contains("--ffn-tokens: the target ffn token count 10 is smaller than the source's 64", Fails("grow", "--from", run, "--out", Path.Combine(dir, "x4"), "--ffn-tokens", "10").Err);
        Assert.Contains("already holds a model", Fails("grow", "--from", run, "--out", grown, "--factor", "2").Err);
        Assert.Contains("directory not found", Fails("grow", "--from", Path.Combine(dir, "nope"), "--out", Path.Combine(dir, "x5"), "--factor", "2").Err);
        Assert.Contains("neither a model directory", Fails("grow", "--from", data, "--out", Path.Combine(dir, "x6"), "--factor", "2").Err);

        // train --init-from a grown model, with --freeze-old
        string cont = Path.Combine(dir, "cont");
        r = Fixtures.RunCli(["train", "--data", data, "--init-from", grown, "--out", cont, "--steps", "2", "--freeze-old", .. common]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("initialised from", r.Out);
        Assert.Contains("--freeze-old:", r.Out);
        TokenFormerModel trained = ModelDirectory.Load(new CheckpointStore(cont).PathOf(2));
        Assert.Equal("preserve", GrowthLineage.Last(trained.Config)!.Mode);
        string stateJson = File.ReadAllText(Path.Combine(new CheckpointStore(cont).PathOf(2), TrainerState.FileName));
        Assert.Contains("\"freeze_old\": true", stateJson);
        Assert.Contains("\"init_from\"", stateJson);

        // bad train arguments
        Assert.Contains("--freeze-old needs --init-from", Fails(["train", "--data", data, "--config", config, "--out", Path.Combine(dir, "y1"), "--steps", "2", "--freeze-old", .. common]).Err);
        Assert.Contains("no growth lineage", Fails(["train", "--data", data, "--init-from", run, "--out", Path.Combine(dir, "y2"), "--steps", "2", "--freeze-old", .. common]).Err);
        Assert.Contains("leave out --preset and --config", Fails(["train", "--data", data, "--init-from", grown, "--config", config, "--out", Path.Combine(dir, "y3"), "--steps", "2", .. common]).Err);
        // the command line the run was started with, plus --resume, continues it (with its frozen rows)
        r = Fixtures.RunCli(["train", "--data", data, "--init-from", grown, "--out", cont, "--steps", "3", "--freeze-old", "--resume", .. common]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("resuming from", r.Out);
        Assert.Equal(3L, new CheckpointStore(cont).Latest()!.Value.Step);
        Assert.Contains("is not the model this run started from", Fails(["train", "--data", data, "--init-from", run, "--out", cont, "--resume", "--steps", "4", "--threads", "1"]).Err);
        Assert.Contains("leave out --preset and --config", Fails(["train", "--data", data, "--init-from", grown, "--config", config, "--out", cont, "--resume", "--steps", "4", "--threads", "1"]).Err);
        Assert.Contains("freeze_old true", Fails(["train", "--data", data, "--out", cont, "--resume", "--steps", "4", "--freeze-old", "false", "--threads", "1"]).Err);

        // a model whose vocabulary is not the data's
        TokenFormerConfig wrong = Fixtures.TinyConfig();
        wrong.VocabSize = Fixtures.Tokenizer.VocabSize + 5;
        var other = new TokenFormerModel(wrong);
        other.InitializeRandom(2);
        string otherDir = Path.Combine(dir, "other-vocab");
        ModelDirectory.Save(other, otherDir);
        var err = Fails(["train", "--data", data, "--init-from", otherDir, "--out", Path.Combine(dir, "y4"), "--steps", "2", .. common]).Err;
        Assert.Contains($"has {wrong.VocabSize} rows (vocab_size)", err);
        Assert.Contains($"{Fixtures.Tokenizer.VocabSize}-id tokenizer", err);
    }
}
