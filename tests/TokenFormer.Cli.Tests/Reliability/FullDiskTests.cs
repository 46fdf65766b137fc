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
}
