using System.Diagnostics;
using System.Text.Json;
using TokenFormer.Model;
using TokenFormer.Model.Training;

namespace TokenFormer.Cli.Tests;

/// <summary>The prepare / train / eval verbs run as child processes, as a user runs them.</summary>
public class CliTests
{
    private static (string Data, string Config) PrepareData(string dir) => Fixtures.PrepareTinyCorpus(dir);

    private static string[] TrainArgs(string data, string config, string run, int steps = 6) =>
        ["train", "--data", data, "--config", config, "--out", run, "--steps", steps.ToString(), "--batch", "2", "--seq", "16", "--warmup", "2",
         "--lr", "0.003", "--eval-every", "3", "--eval-windows", "4", "--save-every", "2", "--keep-last", "0", "--threads", "1"];

    private static List<(long Step, string Loss)> Losses(string run) =>
        File.ReadAllLines(Path.Combine(run, Trainer.MetricsFile)).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("loss", out _)).Select(e => (e.GetProperty("step").GetInt64(), e.GetProperty("loss").GetRawText())).ToList();

    [Fact]
    public void KillDuringCheckpointWrite_LeavesThePreviousCheckpoint_AndResumeContinuesExactly()
    {
        string dir = Fixtures.TempDir("cli-kill");
        var (data, config) = PrepareData(dir);
        string reference = Path.Combine(dir, "reference"), run = Path.Combine(dir, "run");
        var (code, _, err) = Fixtures.RunCli(TrainArgs(data, config, reference));
        Assert.True(code == 0, err);

        var store = new CheckpointStore(run);
        string marker = Path.Combine(store.Directory, ".paused-step-4");
        using (Process p = Fixtures.StartCli(TrainArgs(data, config, run), new Dictionary<string, string> { [CheckpointStore.PauseEnvironmentVariable] = "4" }))
        {
            var watch = Stopwatch.StartNew();
            while (!File.Exists(marker) && !p.HasExited && watch.Elapsed < TimeSpan.FromSeconds(90)) Thread.Sleep(20);
            Assert.True(File.Exists(marker), "the writer never paused: " + (p.HasExited ? p.StandardError.ReadToEnd() : "timeout"));
            p.Kill(entireProcessTree: true);   // SIGKILL
            p.WaitForExit();
        }
        // step-4 was half-written in a temporary folder; step-2 is the newest complete checkpoint and loads
        Assert.Equal([2L], store.List().Select(c => c.Step).ToArray());
        Assert.NotEmpty(Directory.GetDirectories(store.Directory, ".tmp-step-4-*"));
        Assert.True(File.Exists(Path.Combine(Directory.GetDirectories(store.Directory, ".tmp-step-4-*")[0], ModelDirectory.WeightsFile)));
        ModelDirectory.Load(store.PathOf(2));

        (code, string output, err) = Fixtures.RunCli("train", "--data", data, "--out", run, "--resume", "--eval-every", "3", "--save-every", "2", "--keep-last", "0", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("resuming from", output);
        Assert.Equal([2L, 4L, 6L], store.List().Select(c => c.Step).ToArray());
        Assert.Empty(Directory.GetDirectories(store.Directory, ".tmp-*"));
        Assert.Equal(Losses(reference), Losses(run));
        Assert.Equal(File.ReadAllBytes(Path.Combine(new CheckpointStore(reference).PathOf(6), ModelDirectory.WeightsFile)),
            File.ReadAllBytes(Path.Combine(store.PathOf(6), ModelDirectory.WeightsFile)));

        // eval on the final checkpoint
        (code, output, err) = Fixtures.RunCli("eval", "--model", store.PathOf(6), "--data", data, "--seq", "16", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("perplexity", output);
        Assert.Contains("tokens/s", output);
    }

    [Fact]
    public void OnePlainTextFile_WithTheDefaults_TrainsAndPrintsAValidationLoss()
    {
        // the most common input: one big .txt file; tokenizer train → prepare → train with their defaults
        string dir = Fixtures.TempDir("cli-onefile");
        string text = Path.Combine(dir, "corpus.txt"), tok = Path.Combine(dir, "tokenizer.json"), data = Path.Combine(dir, "data"), run = Path.Combine(dir, "run");
        File.WriteAllText(text, Fixtures.Text + "\n" + Fixtures.Text.ToUpperInvariant() + "\n" + Fixtures.Text.ToLowerInvariant());
        var (code, stdout, stderr) = Fixtures.RunCli("tokenizer", "train", "--input", text, "--vocab-size", "400", "--out", tok);
        Assert.True(code == 0, stderr);
        (code, stdout, stderr) = Fixtures.RunCli("prepare", "--tokenizer", tok, "--input", text, "--out", data);
        Assert.True(code == 0, stderr);
        Assert.Contains("note: validation held out by tokens", stdout);
        Assert.Contains("with --boundary file each file is one document", stdout);
        var meta = TokenFormer.Text.Data.DatasetMeta.Load(data);
        Assert.Equal("tokens", meta.ValSplit);
        Assert.True(meta.ValTokens >= 257, $"val {meta.ValTokens} tokens");

        (code, stdout, stderr) = Fixtures.RunCli("train", "--data", data, "--preset", "micro", "--out", run, "--steps", "20", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Contains("eval step 0: val_loss", stdout);
        Assert.Contains("eval step 20: val_loss", stdout);
        Assert.Matches(@"finished at step 20: loss [0-9.]+, val_loss [0-9.]+", stdout);
    }

    [Fact]
    public void Resume_WithTheOriginalConfig_Continues_AndAChangedConfigIsRefusedNamingTheField()
    {
        string dir = Fixtures.TempDir("cli-resume-config");
        var (data, config) = PrepareData(dir);
        string run = Path.Combine(dir, "run");
        var (code, _, err) = Fixtures.RunCli(TrainArgs(data, config, run, steps: 2));
        Assert.True(code == 0, err);

        // the same command line plus --resume (and more steps) continues from the checkpoint
        (code, string output, err) = Fixtures.RunCli([.. TrainArgs(data, config, run, steps: 4), "--resume"]);
        Assert.True(code == 0, err);
        Assert.Contains("resuming from", output);
        Assert.Equal([2L, 4L], new CheckpointStore(run).List().Select(c => c.Step).ToArray());

        // a config that differs in hidden_size is refused, naming the field and both values
        TokenFormerConfig changed = Fixtures.TinyConfig();
        changed.VocabSize = null;
        changed.HiddenSize = 48;
        string changedPath = Path.Combine(dir, "changed.json");
        changed.Save(changedPath);
        (code, _, err) = Fixtures.RunCli([.. TrainArgs(data, changedPath, run, steps: 6), "--resume"]);
        Assert.Equal(1, code);
        Assert.Contains($"--resume: --config {changedPath} differs from the checkpoint's model in hidden_size: 48 given, 32 in", err);
        Assert.Equal([2L, 4L], new CheckpointStore(run).List().Select(c => c.Step).ToArray());

        // so is a preset, and the first differing field is the one named
        (code, _, err) = Fixtures.RunCli("train", "--data", data, "--preset", "micro", "--out", run, "--resume", "--steps", "6", "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains("--resume: --preset micro differs from the checkpoint's model in num_layers: 2 given, 1 in", err);
    }

    [Fact]
    public void CornerCases_GiveClearErrors()
    {
        string dir = Fixtures.TempDir("cli-errors");
        var (data, config) = PrepareData(dir);
        string run = Path.Combine(dir, "run");

        int code;
        string err;

        // a window longer than the data
        string small = Path.Combine(dir, "small");
        File.WriteAllText(Path.Combine(dir, "two.txt"), "A few words.\n\nAnd a few more words here, enough.");
        Fixtures.RunCli("prepare", "--tokenizer", Path.Combine(dir, "tokenizer.json"), "--input", Path.Combine(dir, "two.txt"), "--out", small, "--val-fraction", "0.5", "--boundary", "blank-line");
        (code, _, err) = Fixtures.RunCli("train", "--data", small, "--config", config, "--out", Path.Combine(dir, "r-small"), "--seq", "32", "--steps", "1", "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains("error: the train split has", err);
        Assert.Contains("--seq + 1 = 33", err);

        // a data directory made with another tokenizer than the model's
        (code, _, err) = Fixtures.RunCli(TrainArgs(data, config, run, steps: 2));
        Assert.Equal(0, code);
        var other = new TokenFormer.Text.BpeTrainer(new TokenFormer.Text.BpeTrainerOptions { VocabSize = 300 });
        other.AddText(Fixtures.Text.ToUpperInvariant());
        string otherTok = Path.Combine(dir, "other.json");
        other.Train().Save(otherTok);
        string otherData = Path.Combine(dir, "other-data");
        Assert.Equal(0, Fixtures.RunCli("prepare", "--tokenizer", otherTok, "--input", Path.Combine(dir, "text.txt"), "--out", otherData, "--val-fraction", "0.34", "--boundary", "blank-line").Code);
        (code, _, err) = Fixtures.RunCli("eval", "--model", new CheckpointStore(run).PathOf(2), "--data", otherData, "--seq", "16");
        Assert.Equal(1, code);
        Assert.Contains("is not the tokenizer", err);
        (code, _, err) = Fixtures.RunCli("train", "--data", otherData, "--out", run, "--resume", "--steps", "4", "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains("--resume: the checkpoint", err);
        Assert.Contains("use the same data directory", err);

        // starting over an existing run, and changing a fixed setting on resume
        (code, _, err) = Fixtures.RunCli(TrainArgs(data, config, run, steps: 2));
        Assert.Equal(1, code);
        Assert.Contains("--resume", err);
        (code, _, err) = Fixtures.RunCli("train", "--data", data, "--out", run, "--resume", "--steps", "4", "--lr", "0.1");
        Assert.Equal(1, code);
        Assert.Contains("--lr 0.1 differs from the checkpoint's 0.003", err);

        // empty input
        File.WriteAllText(Path.Combine(dir, "empty.txt"), "");
        (code, _, err) = Fixtures.RunCli("prepare", "--tokenizer", Path.Combine(dir, "tokenizer.json"), "--input", Path.Combine(dir, "empty.txt"), "--out", Path.Combine(dir, "e"));
        Assert.Equal(1, code);
        Assert.Contains("hold no text", err);
    }
}
