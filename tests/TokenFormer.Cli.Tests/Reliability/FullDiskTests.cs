using TokenFormer.Cli.Tests.Serve;
using TokenFormer.Model;
using TokenFormer.Model.Training;
using TokenFormer.TestSupport;

namespace TokenFormer.Cli.Tests.Reliability;

/// <summary>
/// Training on a file system that fills up (a tmpfs sized so that one checkpoint fits and the next does not): the run
/// stops with one clear line, leaves no partial checkpoint or temporary folder, keeps the previous checkpoint loadable,
/// and <c>--resume</c> completes once there is space again (docs/reliability.md).
/// </summary>
public class FullDiskTests
{
    [TmpfsFact]
    public void TrainingOnAFullDisk_StopsClearly_KeepsTheLastCheckpoint_AndResumesAfterSpaceIsFreed()
    {
        string dir = Fixtures.TempDir("full-disk");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string[] common = ["--batch", "2", "--seq", "16", "--eval-every", "0", "--threads", "1", "--warmup", "1", "--save-every", "1", "--keep-last", "0"];

        // the size of one checkpoint, measured on an ordinary folder
        string probe = Path.Combine(dir, "probe");
        var r = Fixtures.RunCli(["train", "--data", data, "--config", config, "--out", probe, "--steps", "1", .. common]);
        Assert.True(r.Code == 0, r.Err);
        long checkpointBytes = Directory.GetFiles(new CheckpointStore(probe).PathOf(1)).Sum(f => new FileInfo(f).Length);
        int kib = (int)(checkpointBytes * 3 / 2 / 1024) + 64;   // room for one checkpoint and the metrics, not for two

        string disk = Path.Combine(dir, "disk");
        TmpfsFactAttribute.Mount(disk, kib);
        try
        {
            string run = Path.Combine(disk, "run");
            r = Fixtures.RunCli(["train", "--data", data, "--config", config, "--out", run, "--steps", "4", .. common]);
            Assert.Equal(1, r.Code);
            Assert.StartsWith("error: could not write the checkpoint of step 2", r.Err.Trim());
            Assert.Contains("step-1, is intact", r.Err);
            Assert.Contains("--resume", r.Err);
            Assert.DoesNotContain("   at ", r.Err);   // no stack trace
            string checkpoints = Path.Combine(run, "checkpoints");
            Assert.Equal("step-1", Path.GetFileName(Assert.Single(Directory.GetFileSystemEntries(checkpoints))));
            TokenFormerModel kept = ModelDirectory.Load(new CheckpointStore(run).PathOf(1));
            Assert.Equal(1, TrainerState.Load(Path.Combine(new CheckpointStore(run).PathOf(1), TrainerState.FileName)).Step);
            Assert.True(kept.Parameters.Length > 0);

            // space freed: the same command with --resume completes the run from step 1
            TmpfsFactAttribute.Resize(disk, kib * 8);
            r = Fixtures.RunCli(["train", "--data", data, "--config", config, "--out", run, "--steps", "4", "--resume", .. common]);
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("resuming from", r.Out);
            Assert.Equal(4L, new CheckpointStore(run).Latest()!.Value.Step);
            Assert.Empty(Directory.GetDirectories(checkpoints, ".tmp-*"));
        }
        finally
        {
            TmpfsFactAttribute.Unmount(disk);
        }
    }

    [TmpfsFact]
    public void PrepareAndImport_OnAFullDisk_FailWithOneLine_AndLeaveNoFileUnderItsFinalName()
    {
        string dir = Fixtures.TempDir("full-disk-writers");
        Fixtures.PrepareTinyCorpus(dir);   // writes text.txt and tokenizer.json
        string disk = Path.Combine(dir, "disk");
        TmpfsFactAttribute.Mount(disk, 8);   // two pages: less than the token streams or the model need
        try
        {
            string data = Path.Combine(disk, "data");
            var r = Fixtures.RunCli("prepare", "--tokenizer", Path.Combine(dir, "tokenizer.json"), "--input", Path.Combine(dir, "text.txt"),
                "--out", data, "--val-fraction", "0.34", "--boundary", "blank-line");
            Assert.Equal(1, r.Code);
            Assert.StartsWith("error:", r.Err.Trim());
            Assert.Contains("No space left on device", r.Err);
            Assert.DoesNotContain("   at ", r.Err);
            Assert.Empty(Directory.Exists(data) ? Directory.GetFiles(data) : []);   // no stream, no meta.json, no temporary file

            string model = Path.Combine(disk, "model");
            r = Fixtures.RunCli("import", "--from", RepositoryPaths.Require(Path.Combine("tests", "fixtures", "torch", "fp32")), "--out", model);
            Assert.Equal(1, r.Code);
            Assert.Contains("disk was full", r.Err);
            Assert.DoesNotContain("   at ", r.Err);
            Assert.Empty(Directory.Exists(model) ? Directory.GetFiles(model) : []);
        }
        finally
        {
            TmpfsFactAttribute.Unmount(disk);
        }
    }

    [TmpfsFact]
    public void Quantize_OnAFullDisk_FailsWithOneLine_AndLeavesNothingBehind()
    {
        string dir = Fixtures.TempDir("full-disk-quantize");
        string source = TestModel.Directory;   // float32 micro model with its tokenizer.json

        // the sizes of what quantize writes, measured on an ordinary folder
        string probe = Path.Combine(dir, "probe");
        var r = Fixtures.RunCli("quantize", "--model", source, "--to", "int8", "--out", probe);
        Assert.True(r.Code == 0, r.Err);
        static long Pages(string f) => (new FileInfo(f).Length + 4095) / 4096;
        long weightsAndConfig = Pages(Path.Combine(probe, ModelDirectory.WeightsFile)) + Pages(Path.Combine(probe, ModelDirectory.ConfigFile));
        long tokenizerPages = Pages(Path.Combine(probe, "tokenizer.json"));
        Assert.True(tokenizerPages > 4, "the tokenizer is too small for the second case");

        // two disks: one too small for the weights, one with room for the weights and config.json but not the tokenizer
        foreach ((string name, long kib) in new[] { ("no room for the weights", 8L), ("no room for the tokenizer", (weightsAndConfig + 2) * 4) })
        {
            string disk = Path.Combine(dir, "disk-" + kib);
            TmpfsFactAttribute.Mount(disk, (int)kib);
            try
            {
                string output = Path.Combine(disk, "q");
                r = Fixtures.RunCli("quantize", "--model", source, "--to", "int8", "--out", output);
                Assert.True(r.Code == 1, $"{name}: exit {r.Code}; {r.Out} {r.Err}");
                Assert.Single(r.Err.Trim().Split('\n'));
                Assert.StartsWith($"error: {output}: cannot write", r.Err.Trim());
                Assert.True(r.Err.Contains("disk was full") || r.Err.Contains("No space left on device"), r.Err);
                Assert.DoesNotContain("   at ", r.Err);
                if (kib > 8) Assert.True(r.Err.Contains("/q/tokenizer.json: No space left"), r.Err);   // failed at the tokenizer, after the weights and config.json
                Assert.Empty(Directory.GetFileSystemEntries(disk));   // no model.safetensors, config.json, temporary file or folder
            }
            finally
            {
                TmpfsFactAttribute.Unmount(disk);
            }
        }
    }

    [TmpfsFact]
    public void ReadOnlyOutputFolder_TrainPrepareImportQuantize_FailWithOneClearLine()
    {
        string dir = Fixtures.TempDir("read-only-out");
        var (data, config) = Fixtures.PrepareTinyCorpus(dir);
        string ro = Path.Combine(dir, "ro");
        TmpfsFactAttribute.Mount(ro, 1024);
        TmpfsFactAttribute.MakeReadOnly(ro);
        try
        {
            var runs = new (string Name, string[] Args)[]
            {
                ("train", ["train", "--data", data, "--config", config, "--out", ro, "--steps", "2", "--batch", "2", "--seq", "16", "--eval-every", "0", "--threads", "1", "--save-every", "1"]),
                ("prepare", ["prepare", "--tokenizer", Path.Combine(dir, "tokenizer.json"), "--input", Path.Combine(dir, "text.txt"), "--out", ro, "--val-fraction", "0.34", "--boundary", "blank-line"]),
                ("import", ["import", "--from", RepositoryPaths.Require(Path.Combine("tests", "fixtures", "torch", "fp32")), "--out", ro]),
                ("quantize", ["quantize", "--model", TestModel.Directory, "--to", "bf16", "--out", ro]),
            };
            foreach ((string name, string[] args) in runs)
            {
                var r = Fixtures.RunCli(args);
                Assert.True(r.Code == 1, $"{name}: exit {r.Code}; {r.Out} {r.Err}");
                string err = r.Err.Trim();
                Assert.Single(err.Split('\n'));
                Assert.StartsWith("error:", err);
                Assert.Contains("Read-only file system", err);
                Assert.Contains(ro, err);
                Assert.DoesNotContain("   at ", err);
            }
            Assert.Empty(Directory.GetFileSystemEntries(ro));
        }
        finally
        {
            TmpfsFactAttribute.Unmount(ro);
        }
    }
}
