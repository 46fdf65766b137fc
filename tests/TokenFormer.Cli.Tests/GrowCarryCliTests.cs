using TokenFormer.Model;
using TokenFormer.Model.Training;

namespace TokenFormer.Cli.Tests;

/// <summary>
/// <c>grow</c> carrying the optimiser state into the grown directory and <c>train --init-from</c> with
/// <c>--carry-optimizer</c>, <c>--schedule</c> and <c>--old-lr-scale</c>: a straight run and a stopped + resumed one end
/// at the same bytes, and bad combinations give one-line errors naming the option.
/// </summary>
public class GrowCarryCliTests
{
    [Fact]
    public void Cli_GrowCarriesTheOptimizer_TrainUsesIt_AndResumeIsBitwiseExact()
    {
        string dir = Fixtures.TempDir("cli-carry");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string run = Path.Combine(dir, "run");
        string[] common = ["--batch", "2", "--seq", "16", "--eval-every", "2", "--eval-windows", "4", "--threads", "1"];
        var r = Fixtures.RunCli(["train", "--data", data, "--config", config, "--out", run, "--steps", "6", "--stop-at", "3", "--warmup", "1", "--lr", "3e-3", .. common]);
        Assert.True(r.Code == 0, r.Err);

        string grown = Path.Combine(dir, "grown");
        r = Fixtures.RunCli("grow", "--from", run, "--out", grown, "--factor", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("optimizer state: AdamW moments grown", r.Out);
        Assert.Contains("step 3", r.Out);
        SourceSchedule schedule = CarriedOptimizer.ReadSchedule(grown)!;
        Assert.Equal((3e-3, 6L, 3L), (schedule.Peak, schedule.Total, schedule.Step));

        string[] carried = ["train", "--data", data, "--init-from", grown, "--steps", "4", "--carry-optimizer", "--schedule", "rewarm", "--warmup", "1", "--old-lr-scale", "0.5", "--save-every", "2", .. common];
        string straight = Path.Combine(dir, "straight"), split = Path.Combine(dir, "split");
        r = Fixtures.RunCli([.. carried, "--out", straight]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("schedule rewarm", r.Out);
        Assert.Contains("carried optimiser state (AdamW step 3)", r.Out);
        Assert.Contains("old parameters at 0.5 × the learning rate", r.Out);
        string state = File.ReadAllText(Path.Combine(new CheckpointStore(straight).PathOf(4), TrainerState.FileName));
        Assert.Contains("\"schedule\": \"rewarm\"", state);
        Assert.Contains("\"carry_optimizer\": true", state);
        Assert.Contains("\"old_lr_scale\": 0.5", state);
        Assert.Contains("\"source_schedule\"", state);

        r = Fixtures.RunCli([.. carried, "--out", split, "--stop-at", "2"]);
        Assert.True(r.Code == 0, r.Err);
        r = Fixtures.RunCli([.. carried, "--out", split, "--resume"]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("resuming from", r.Out);
        byte[] a = File.ReadAllBytes(Path.Combine(new CheckpointStore(straight).PathOf(4), ModelDirectory.WeightsFile));
        byte[] b = File.ReadAllBytes(Path.Combine(new CheckpointStore(split).PathOf(4), ModelDirectory.WeightsFile));
        Assert.True(a.AsSpan().SequenceEqual(b), "straight and stopped + resumed runs ended at different weights");
        byte[] ao = File.ReadAllBytes(Path.Combine(new CheckpointStore(straight).PathOf(4), CheckpointStore.OptimizerFile));
        byte[] bo = File.ReadAllBytes(Path.Combine(new CheckpointStore(split).PathOf(4), CheckpointStore.OptimizerFile));
        Assert.True(ao.AsSpan().SequenceEqual(bo), "straight and stopped + resumed runs ended at different optimiser states");
        // the same command with fresh moments ends elsewhere, so the comparison above is not between runs that ignore the carried state
        string fresh = Path.Combine(dir, "fresh");
        r = Fixtures.RunCli([.. carried.Where(x => x != "--carry-optimizer"), "--carry-optimizer", "false", "--out", fresh]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("fresh optimiser state", r.Out);
        Assert.False(a.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(new CheckpointStore(fresh).PathOf(4), ModelDirectory.WeightsFile))));

        // bad combinations
        (int Code, string Out, string Err) Fails(params string[] args)
        {
            var res = Fixtures.RunCli(args);
            Assert.True(res.Code == 1, $"expected exit 1 for {string.Join(' ', args)}; got {res.Code}: {res.Out} {res.Err}");
            return res;
        }
        string plain = Path.Combine(dir, "plain");   // the grown model without its optimizer state
        Directory.CreateDirectory(plain);
        foreach (string f in new[] { ModelDirectory.ConfigFile, ModelDirectory.WeightsFile, "tokenizer.json" }) File.Copy(Path.Combine(grown, f), Path.Combine(plain, f));
        string[] basic = ["train", "--data", data, "--steps", "2", .. common];
        Assert.Contains("--carry-optimizer: --init-from", Fails([.. basic, "--init-from", plain, "--carry-optimizer", "--out", Path.Combine(dir, "z1")]).Err);
        Assert.Contains("records no source schedule", Fails([.. basic, "--init-from", plain, "--schedule", "continue", "--out", Path.Combine(dir, "z2")]).Err);
        Assert.Contains("--lr does not apply to --schedule rewarm", Fails([.. basic, "--init-from", grown, "--schedule", "rewarm", "--lr", "1e-3", "--out", Path.Combine(dir, "z3")]).Err);
        Assert.Contains("--carry-optimizer needs --init-from", Fails([.. basic, "--config", config, "--carry-optimizer", "--out", Path.Combine(dir, "z4")]).Err);
        Assert.Contains("--old-lr-scale", Fails([.. basic, "--init-from", run, "--old-lr-scale", "0.5", "--out", Path.Combine(dir, "z5")]).Err);
        Assert.Contains("--min-lr must be at most the source run's final learning rate", Fails([.. basic, "--init-from", grown, "--schedule", "rewarm", "--min-lr", "1", "--out", Path.Combine(dir, "z6")]).Err);
        Assert.Contains("--schedule cosine differs from the checkpoint's rewarm", Fails([.. carried.Where(x => x != "rewarm" && x != "--schedule"), "--schedule", "cosine", "--out", split, "--resume"]).Err);
        Assert.Contains("started with fresh optimiser state", Fails(["train", "--data", data, "--out", fresh, "--resume", "--steps", "5", "--carry-optimizer", "--threads", "1"]).Err);
        // grown from a model directory without optimizer state: said, and nothing written
        r = Fixtures.RunCli("grow", "--from", plain, "--out", Path.Combine(dir, "grown2"), "--factor", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("has none", r.Out);
        Assert.False(File.Exists(Path.Combine(dir, "grown2", CheckpointStore.OptimizerFile)));
    }

    [Fact]
    public void Cli_TrainInitFromAGrownModel_UsesTheGrowthRecipeByDefault_AfterAStableSource()
    {
        string dir = Fixtures.TempDir("cli-recipe");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string[] common = ["--batch", "2", "--seq", "16", "--eval-every", "0", "--eval-windows", "4", "--threads", "1"];
        string small = Path.Combine(dir, "small");
        var r = Fixtures.RunCli(["train", "--data", data, "--config", config, "--out", small, "--steps", "4", "--warmup", "1", "--lr", "3e-3",
            "--schedule", "wsd", "--decay-steps", "0", .. common]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("\"schedule\": \"wsd\"", File.ReadAllText(Path.Combine(new CheckpointStore(small).PathOf(4), TrainerState.FileName)));
        string grown = Path.Combine(dir, "grown");
        Assert.True((r = Fixtures.RunCli("grow", "--from", small, "--out", grown, "--factor", "2")).Code == 0, r.Err);
        Assert.Contains("0.003 at step 4", r.Out);   // a stable source's next rate is its peak

        // no schedule options: carried moments, S's rate held, then the run's own decay over its last fifth to a tenth of it
        string recipe = Path.Combine(dir, "recipe");
        r = Fixtures.RunCli(["train", "--data", data, "--init-from", grown, "--out", recipe, "--steps", "10", .. common]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("schedule continue (learning rate 0.003 at the first update", r.Out);
        Assert.Contains("0.0003 at the end", r.Out);
        Assert.Contains("carried optimiser state (AdamW step 4)", r.Out);
        string state = File.ReadAllText(Path.Combine(new CheckpointStore(recipe).PathOf(10), TrainerState.FileName));
        Assert.Contains("\"carry_optimizer\": true", state);
        Assert.Contains("\"decay_steps\": 2", state);

        // opting out: fresh moments, or a new peak (--lr), which means a new cosine
        r = Fixtures.RunCli(["train", "--data", data, "--init-from", grown, "--out", Path.Combine(dir, "fresh"), "--steps", "2", "--carry-optimizer", "false", .. common]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("schedule continue", r.Out);
        Assert.Contains("fresh optimiser state", r.Out);
        r = Fixtures.RunCli(["train", "--data", data, "--init-from", grown, "--out", Path.Combine(dir, "cosine"), "--steps", "2", "--lr", "1e-3", .. common]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("schedule cosine", r.Out);
        Assert.Contains("fresh optimiser state", r.Out);
        // --decay-steps where no schedule uses it
        r = Fixtures.RunCli(["train", "--data", data, "--config", config, "--out", Path.Combine(dir, "z"), "--steps", "2", "--decay-steps", "1", .. common]);
        Assert.Equal(1, r.Code);
        Assert.Contains("--decay-steps applies to --schedule wsd and continue", r.Err);
    }
}
