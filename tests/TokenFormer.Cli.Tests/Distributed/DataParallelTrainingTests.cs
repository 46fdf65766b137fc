using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TokenFormer.Model;
using TokenFormer.Model.Optimizer;
using TokenFormer.Model.Training;
using Xunit.Abstractions;

namespace TokenFormer.Cli.Tests.Distributed;

/// <summary>
/// Data-parallel training under mpirun (issue 15, docs/distributed.md): 2 ranks × batch b equal 1 process × batch 2b
/// (plain, sharded optimiser, gradient accumulation, small overlapped buckets), elastic resume 2 → 1 ranks, a killed
/// rank, ranks started differently, and a launch without libmpi. Tiny model, few steps, every run bounded in time.
/// </summary>
public sealed class DataParallelTrainingTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    /// <summary>The train command line; <paramref name="extra"/> flags replace the defaults' values or are appended.</summary>
    private static string[] Train(string data, string config, string run, int batch, int steps, params string[] extra)
    {
        var args = new List<string> { "train", "--data", data, "--config", config, "--out", run, "--steps", steps.ToString(CultureInfo.InvariantCulture),
            "--batch", batch.ToString(CultureInfo.InvariantCulture), "--seq", "16", "--warmup", "3", "--lr", "0.003",
            "--eval-every", "10", "--eval-windows", "4", "--save-every", "10", "--keep-last", "0", "--threads", "1", "--log-every", "10" };
        for (int i = 0; i < extra.Length; i++)
        {
            bool hasValue = i + 1 < extra.Length && !extra[i + 1].StartsWith("--", StringComparison.Ordinal);
            int at = args.IndexOf(extra[i]);
            if (at >= 0 && hasValue) args[at + 1] = extra[i + 1];
            else { args.Add(extra[i]); if (hasValue) args.Add(extra[i + 1]); }
            if (hasValue) i++;
        }
        return [.. args];
    }

    private static List<double> Losses(string run) =>
        File.ReadAllLines(Path.Combine(run, Trainer.MetricsFile)).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("loss", out _)).Select(e => e.GetProperty("loss").GetDouble()).ToList();

    private static float[] Weights(string run, long step) => ModelDirectory.Load(new CheckpointStore(run).PathOf(step)).Parameters;

    /// <summary>‖a − b‖₂ / ‖b‖₂.</summary>
    private static double RelativeDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(b.Length, a.Length);
        double d = 0, n = 0;
        for (int i = 0; i < a.Length; i++) { d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]); n += (double)b[i] * b[i]; }
        return Math.Sqrt(d / n);
    }

    private void AssertEquivalent(string reference, string run, long finalStep, string what)
    {
        List<double> a = Losses(reference), b = Losses(run);
        Assert.Equal(finalStep, a.Count);
        Assert.Equal(a.Count, b.Count);
        double worst = a.Zip(b, (x, y) => Math.Abs(x - y) / Math.Abs(x)).Max();
        double weights = RelativeDifference(Weights(run, finalStep), Weights(reference, finalStep));
        output.WriteLine($"{what}: largest relative loss difference {worst:E2} over {a.Count} steps; final weights ‖Δ‖/‖w‖ {weights:E2}");
        Assert.True(worst <= Tolerance, $"{what}: a step's loss differs by {worst:E2} relative (more than {Tolerance:E0})");
        Assert.True(weights <= Tolerance, $"{what}: the final weights differ by {weights:E2} relative (more than {Tolerance:E0})");
    }

    [Fact]
    public void TwoRanks_EqualOneProcessWithTheDoubleBatch_PlainShardedAccumulatedAndBucketed()
    {
        if (Mpi.Require(output) is not string mpirun) return;
        string dir = Fixtures.TempDir("mpi-equiv");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string one = Path.Combine(dir, "one"), oneAccum = Path.Combine(dir, "one-accum");
        var (code, _, err) = Fixtures.RunCli(Train(data, config, one, batch: 4, steps: 30));
        Assert.True(code == 0, err);
        (code, _, err) = Fixtures.RunCli(Train(data, config, oneAccum, batch: 4, steps: 30, "--grad-accum", "2"));
        Assert.True(code == 0, err);

        foreach (var (name, extra, reference) in new[]
        {
            ("plain", Array.Empty<string>(), one),
            ("sharded optimizer", new[] { "--shard-optimizer" }, one),
            ("grad-accum 2", new[] { "--grad-accum", "2" }, oneAccum),
            ("sharded + grad-accum 2", new[] { "--shard-optimizer", "--grad-accum", "2" }, oneAccum),
            ("buckets of 4 KB (several overlapped allreduces)", new[] { "--bucket-mb", "0.004" }, one),
        })
        {
            string run = Path.Combine(dir, "two-" + name.Split(' ')[0] + extra.Length);
            string stdout;
            (code, stdout, err) = Mpi.Run(mpirun, 2, Train(data, config, run, batch: 2, steps: 30, extra));
            Assert.True(code == 0, $"{name}: exit {code}\n{stdout}\n{err}");
            AssertEquivalent(reference, run, 30, name);
            // only rank 0 reports and writes: one line per checkpoint, one closing line
            Assert.Equal(3, CountOf(stdout, "saved checkpoint"));
            Assert.Equal(1, CountOf(stdout, "finished at step 30"));
            Assert.Contains("data parallel: 2 ranks", stdout);
            if (extra.Contains("--shard-optimizer"))
            {
                // each rank holds half the AdamW state (from the arrays it allocated), and the gathered checkpoint is the ordinary format
                Assert.Matches(@"AdamW state per rank \(sharded\): rank 0 [\d,]+ floats \([\d.]+ MB, 50\.0 %\), rank 1 [\d,]+ floats \([\d.]+ MB, 50\.0 %\)", stdout);
                TokenFormerModel model = ModelDirectory.Load(new CheckpointStore(run).PathOf(30));
                AdamW gathered = new(model.Layout), single = new(model.Layout);
                CheckpointStore.LoadOptimizer(model, gathered, Path.Combine(new CheckpointStore(run).PathOf(30), CheckpointStore.OptimizerFile));
                CheckpointStore.LoadOptimizer(model, single, Path.Combine(new CheckpointStore(reference).PathOf(30), CheckpointStore.OptimizerFile));
                Assert.Equal(single.Step, gathered.Step);
                Assert.True(RelativeDifference(gathered.FirstMoment, single.FirstMoment) <= 1e-4, "gathered first moments differ");
                Assert.True(RelativeDifference(gathered.SecondMoment, single.SecondMoment) <= 1e-4, "gathered second moments differ");
            }
            else Assert.Contains("AdamW state per rank (replicated)", stdout);
        }
    }

    private static int CountOf(string text, string part)
    {
        int n = 0;
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    [Fact]
    public void ElasticResume_TwoRanksToStep20_ThenOneRankTo40_EqualsTwoRanksTo40()
    {
        if (Mpi.Require(output) is not string mpirun) return;
        string dir = Fixtures.TempDir("mpi-elastic");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string whole = Path.Combine(dir, "whole"), split = Path.Combine(dir, "split");
        var (code, stdout, err) = Mpi.Run(mpirun, 2, Train(data, config, whole, batch: 2, steps: 40));
        Assert.True(code == 0, stdout + err);
        // the first leg with the sharded optimiser: its gathered checkpoint must load on any number of ranks
        (code, stdout, err) = Mpi.Run(mpirun, 2, Train(data, config, split, batch: 2, steps: 40, "--stop-at", "20", "--shard-optimizer"));
        Assert.True(code == 0, stdout + err);
        Assert.Equal(2, JsonDocument.Parse(File.ReadAllText(Path.Combine(new CheckpointStore(split).PathOf(20), TrainerState.FileName))).RootElement.GetProperty("ranks").GetInt32());
        (code, stdout, err) = Fixtures.RunCli(["train", "--data", data, "--out", split, "--resume", "--eval-every", "10", "--eval-windows", "4", "--save-every", "10", "--keep-last", "0", "--threads", "1"]);
        Assert.True(code == 0, stdout + err);
        Assert.Contains("written by 2 ranks, continued on 1 with 4 windows each", stdout);
        AssertEquivalent(whole, split, 40, "2 ranks to 20, then 1 rank to 40");
    }

    [Fact]
    public void GrownModel_TrainsOnUnderMpirun_WithCarriedShardedOptimizer_LikeOneProcess()
    {
        if (Mpi.Require(output) is not string mpirun) return;
        string dir = Fixtures.TempDir("mpi-grown");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string small = Path.Combine(dir, "small"), grown = Path.Combine(dir, "grown"), one = Path.Combine(dir, "one"), two = Path.Combine(dir, "two");
        var (code, stdout, err) = Mpi.Run(mpirun, 2, Train(data, config, small, batch: 2, steps: 10));
        Assert.True(code == 0, stdout + err);
        (code, stdout, err) = Fixtures.RunCli("grow", "--from", new CheckpointStore(small).PathOf(10), "--factor", "2", "--out", grown);
        Assert.True(code == 0, stdout + err);
        string[] From(string run, int batch) => ["train", "--data", data, "--init-from", grown, "--carry-optimizer", "--schedule", "continue", "--out", run,
            "--steps", "10", "--batch", batch.ToString(CultureInfo.InvariantCulture), "--seq", "16", "--eval-every", "10", "--eval-windows", "4",
            "--save-every", "10", "--keep-last", "0", "--threads", "1"];
        (code, stdout, err) = Fixtures.RunCli(From(one, 4));
        Assert.True(code == 0, stdout + err);
        (code, stdout, err) = Mpi.Run(mpirun, 2, [.. From(two, 2), "--shard-optimizer"]);
        Assert.True(code == 0, stdout + err);
        Assert.Contains("carried optimiser state", stdout);
        AssertEquivalent(one, two, 10, "grown model, carried sharded optimizer");
    }

    [Fact]
    public async Task KilledRank_EndsTheJobNamingTheRank_TheLastCheckpointLoads_AndResumeCompletes()
    {
        if (Mpi.Require(output) is not string mpirun) return;
        string dir = Fixtures.TempDir("mpi-kill");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string run = Path.Combine(dir, "run");
        int seed = Environment.TickCount & 0xFFFF;
        var random = new Random(seed);
        int victim = random.Next(2);
        var store = new CheckpointStore(run);
        string[] args = Train(data, config, run, batch: 2, steps: 100000, "--save-every", "5", "--keep-last", "3", "--eval-every", "0");
        Process job = Mpi.Start(mpirun, (2, null, args));
        Task<string> stdout = job.StandardOutput.ReadToEndAsync(), stderr = job.StandardError.ReadToEndAsync();
        try
        {
            var watch = Stopwatch.StartNew();
            while (store.Latest() == null && !job.HasExited && watch.Elapsed < Mpi.Limit) Thread.Sleep(50);
            Assert.True(store.Latest() != null, "no checkpoint was written: " + (job.HasExited ? await stderr : "timeout"));
            Thread.Sleep(random.Next(50, 1500)); // a random step after the first checkpoint
            List<int> pids = Mpi.RankProcesses(job.Id, victim);
            Assert.True(pids.Count > 0, $"no process of rank {victim} found under mpirun {job.Id}");
            long stepBefore = store.Latest()!.Value.Step;
            foreach (int pid in pids) Process.GetProcessById(pid).Kill(); // SIGKILL
            var killed = Stopwatch.StartNew();
            bool ended = job.WaitForExit(60_000);
            Assert.True(ended, $"the job did not end within 60 s after rank {victim} was killed (seed {seed})");
            job.WaitForExit();
            string all = await stdout + await stderr;
            output.WriteLine($"seed {seed}: killed rank {victim} (pid {string.Join(",", pids)}) after checkpoint step {stepBefore}; the job ended in {killed.Elapsed.TotalSeconds:F1} s with exit code {job.ExitCode}");
            output.WriteLine(string.Join('\n', all.Split('\n').Where(l => l.Contains("rank", StringComparison.OrdinalIgnoreCase)).Take(5)));
            Assert.NotEqual(0, job.ExitCode);
            Assert.Matches($@"process rank {victim} .*exited on signal 9", all.Replace('\n', ' '));
        }
        finally
        {
            if (!job.HasExited) job.Kill(entireProcessTree: true);
            job.Dispose();
        }
        // the newest complete checkpoint loads; --resume continues from it (to 10 more steps) on 2 ranks
        var (path, step) = store.Latest()!.Value;
        ModelDirectory.Load(path);
        var (code, outText, errText) = Mpi.Run(mpirun, 2, ["train", "--data", data, "--out", run, "--resume", "--steps", (step + 10).ToString(CultureInfo.InvariantCulture),
            "--eval-every", "0", "--save-every", "5", "--keep-last", "3", "--threads", "1"]);
        Assert.True(code == 0, outText + errText);
        Assert.Contains($"resuming from {path} at step {step}", outText);
        Assert.Contains($"finished at step {step + 10}", outText);
        Assert.True(CheckpointStore.IsComplete(store.PathOf(step + 10)));
    }

    [Fact]
    public void RanksStartedWithDifferentOptionsDataOrVersions_AreRefusedAtTheStart()
    {
        if (Mpi.Require(output) is not string mpirun) return;
        string dir = Fixtures.TempDir("mpi-mismatch");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string otherData = Path.Combine(dir, "data2");
        Directory.CreateDirectory(otherData);
        foreach (string f in Directory.GetFiles(data)) File.Copy(f, Path.Combine(otherData, Path.GetFileName(f)));
        byte[] train = File.ReadAllBytes(Path.Combine(otherData, "train.bin"));
        (train[0], train[2]) = (train[2], train[0]);
        train[4] ^= 1;
        File.WriteAllBytes(Path.Combine(otherData, "train.bin"), train);
        string run = Path.Combine(dir, "run");
        string[] baseArgs = Train(data, config, run, batch: 2, steps: 5);
        var cases = new (string Name, (int, IDictionary<string, string>?, IReadOnlyList<string>) Second, string Expected)[]
        {
            ("options", (1, null, [.. baseArgs.Select(a => a == "0.003" ? "0.002" : a)]), "options: rank 0 has"),
            ("data", (1, null, [.. baseArgs.Select(a => a == data ? otherData : a)]), "data train.bin: rank 0 has"),
            ("version", (1, new Dictionary<string, string> { [Commands.DistributedRun.VersionTestVariable] = "other-build" }, baseArgs), "version: rank 0 has"),
        };
        foreach (var (name, second, expected) in cases)
        {
            var (code, stdout, stderr) = Mpi.Wait(Mpi.Start(mpirun, (1, null, baseArgs), second), "mismatch " + name);
            output.WriteLine($"{name}: exit {code}: {stderr.Split('\n').FirstOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal))}");
            Assert.NotEqual(0, code);
            Assert.Contains("the ranks were started differently and the job is refused", stderr);
            Assert.Contains(expected, stderr);
            Assert.Contains("rank 1", stderr);
            Assert.False(Directory.Exists(Path.Combine(run, "checkpoints")), "a refused job must not train");
        }
    }

    [Fact]
    public void WeightsThatDivergeAcrossRanks_StopTheJobAtTheCheckpoint_NamingTheRank()
    {
        if (Mpi.Require(output) is not string mpirun) return;
        string dir = Fixtures.TempDir("mpi-checksum");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string run = Path.Combine(dir, "run");
        var env = new Dictionary<string, string> { [TokenFormer.Model.Distributed.DataParallel.PerturbEnvironmentVariable] = "1" };
        var (code, stdout, stderr) = Mpi.Wait(Mpi.Start(mpirun, (2, env, Train(data, config, run, batch: 2, steps: 20))), "checksum mismatch");
        output.WriteLine(stderr.Split('\n').FirstOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal)) ?? stderr);
        Assert.NotEqual(0, code);
        Assert.Contains("error: step 10: the weights differ across ranks at the checkpoint: rank 1 (checksum", stderr);
        Assert.Contains("differs from rank 0", stderr);
        Assert.Null(new CheckpointStore(run).Latest()); // nothing saved for the diverged step
    }

    [Fact]
    public async Task LaunchedByMpirunWithoutAnMpiLibrary_SaysWhatToInstall()
    {
        // no mpirun needed: the launcher's variable is set by hand and the library path points nowhere
        string dir = Fixtures.TempDir("mpi-nolib");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        using Process p = Fixtures.StartCli(Train(data, config, Path.Combine(dir, "run"), batch: 2, steps: 2),
            new Dictionary<string, string> { ["OMPI_COMM_WORLD_SIZE"] = "2", ["OMPI_COMM_WORLD_RANK"] = "0", ["TOKENFORMER_MPI_LIBRARY"] = Path.Combine(dir, "no-such-libmpi.so.40") });
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "the CLI did not stop");
        Assert.Equal(1, p.ExitCode);
        string err = await stderr;
        await stdout;
        Assert.Contains("error: started by mpirun (OMPI_COMM_WORLD_SIZE=2), but no MPI library could be loaded", err);
        Assert.Contains("apt-get install openmpi-bin", err);
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }
}
