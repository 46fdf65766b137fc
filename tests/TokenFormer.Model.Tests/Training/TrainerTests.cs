using System.Xml.Linq;
using TokenFormer.Model;
using TokenFormer.Model.Training;

namespace TokenFormer.Model.Tests.Training;

// After the namespace line, so that Fixtures means the shared training data rather than this project's Fixtures class.
using Fixtures = TokenFormer.TestSupport.TrainingFixtures;

public class TrainerTests
{
    private static int[] Ids => Fixtures.Tokenizer.Encode(Fixtures.Text + Fixtures.Text).Append(0).ToArray();
    private static ITokenSource TrainSource => new ArrayTokenSource(Ids[..^200]);
    private static ITokenSource ValSource => new ArrayTokenSource(Ids[^200..]);

    private static TrainingOptions Options(long steps) => new()
    {
        Steps = steps, Batch = 2, Sequence = 16, GradAccum = 2, LearningRate = 3e-3, MinLearningRate = 3e-4, Warmup = 2,
        EvalEvery = 3, EvalWindows = 5, SaveEvery = 2, KeepLast = 2, LogEvery = 1,
    };

    [Fact]
    public void Schedule_WarmsUpLinearly_ThenFollowsTheCosineToTheFloor()
    {
        var s = new LearningRateSchedule(1e-3, 1e-4, 10, 110);
        Assert.Equal(0, s.At(0));
        Assert.Equal(5e-4, s.At(5), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal(1e-4 + 0.9e-3 / 2, s.At(60), 12);   // half-way through the cosine
        Assert.Equal(1e-4, s.At(110), 12);
        Assert.Equal(1e-4, s.At(500), 12);
        Assert.True(s.At(30) > s.At(31));
        Assert.Equal(1e-3, new LearningRateSchedule(1e-3, 0, 0, 100).At(0), 12);
    }

    [Fact]
    public void Sampler_IsDeterministic_InRange_AndResumable()
    {
        var a = new WindowSampler(42);
        long[] first = Enumerable.Range(0, 1000).Select(_ => a.Next(100, 17)).ToArray();
        Assert.All(first, s => Assert.InRange(s, 0, 83));
        Assert.True(first.Distinct().Count() > 60);
        var b = new WindowSampler(42) { Drawn = 500 };
        Assert.Equal(first[500..], Enumerable.Range(0, 500).Select(_ => b.Next(100, 17)).ToArray());
        Assert.NotEqual(first, Enumerable.Range(0, 1000).Select(_ => new WindowSampler(43).Next(100, 17)).ToArray());
    }

    [Fact]
    public void GlobalNorm_IsTheL2NormAndPropagatesNaN()
    {
        float[] g = [3, 4, 0, 0, 12];
        Assert.Equal(13, GradientMath.GlobalNorm(g), 12);
        g[2] = float.NaN;
        Assert.True(double.IsNaN(GradientMath.GlobalNorm(g)));
        g[2] = float.PositiveInfinity;
        Assert.True(double.IsInfinity(GradientMath.GlobalNorm(g)));
    }

    [Fact]
    public void ResumeIsExact_NStepsThenResumeForNMore_MatchesOneRunOf2N()
    {
        string full = Fixtures.TempDir("resume-full"), split = Fixtures.TempDir("resume-split");
        List<StepMetrics> reference;
        List<EvalMetrics> referenceEvals;
        float[] referenceWeights;
        using (Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(8), TrainSource, ValSource, full, new TrainerContext()))
        {
            TrainingResult r = t.Run();
            Assert.True(r.Finished);
            reference = [.. t.StepRecords];
            referenceEvals = [.. t.EvalRecords];
            referenceWeights = t.Model.Parameters.ToArray();
        }
        using (Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(8) with { StopAt = 4 }, TrainSource, ValSource, split, new TrainerContext()))
        {
            TrainingResult r = t.Run();
            Assert.False(r.Finished);
            Assert.Equal(4, r.Step);
        }
        using (Trainer t = Trainer.Resume(split, Options(8), null, TrainSource, ValSource, new TrainerContext()))
        {
            Assert.Equal(4, t.Step);
            t.Run();
            Assert.Equal(8, t.StepRecords.Count);
            for (int i = 0; i < 8; i++)
            {
                Assert.Equal(reference[i].Step, t.StepRecords[i].Step);
                Assert.Equal(BitConverter.DoubleToInt64Bits(reference[i].Loss), BitConverter.DoubleToInt64Bits(t.StepRecords[i].Loss));
                Assert.Equal(reference[i].LearningRate, t.StepRecords[i].LearningRate);
            }
            Assert.Equal(referenceEvals.Select(e => (e.Step, e.ValLoss)), t.EvalRecords.Select(e => (e.Step, e.ValLoss)));
            Assert.Equal(referenceWeights, t.Model.Parameters);
        }
        // the loss actually moved, so the comparison is not between constants
        Assert.True(reference[^1].Loss < reference[0].Loss);
        // --keep-last 2 left the newest two of steps 2, 4, 6, 8
        Assert.Equal([6L, 8L], new CheckpointStore(split).List().Select(c => c.Step).ToArray());
        string[] metricLines = File.ReadAllLines(Path.Combine(split, Trainer.MetricsFile));
        Assert.Equal(File.ReadAllLines(Path.Combine(full, Trainer.MetricsFile)).Length, metricLines.Length);
    }

    [Fact]
    public void Checkpoint_IsALoadableModelDirectory_WithOptimizerAndState()
    {
        string run = Fixtures.TempDir("ckpt");
        string tokenizer = Path.Combine(run, "tokenizer.json");
        Fixtures.Tokenizer.Save(tokenizer);
        using (Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(2), TrainSource, ValSource, run, new TrainerContext { ExtraFiles = [tokenizer], TokenizerHash = "abc" }))
            t.Run();
        string dir = new CheckpointStore(run).PathOf(2);
        TokenFormerModel m = ModelDirectory.Load(dir);
        Assert.Equal(Fixtures.Tokenizer.VocabSize, m.Vocab);
        Assert.True(File.Exists(Path.Combine(dir, "tokenizer.json")));
        TrainerState s = TrainerState.Load(Path.Combine(dir, TrainerState.FileName));
        Assert.Equal(2, s.Step);
        Assert.Equal(2 * 2 * 2, s.WindowsDrawn);
        Assert.Equal("abc", s.TokenizerHash);
        var adam = new TokenFormer.Model.Optimizer.AdamW(m.Layout);
        CheckpointStore.LoadOptimizer(m, adam, Path.Combine(dir, CheckpointStore.OptimizerFile));
        Assert.Equal(2, adam.Step);
        Assert.Contains(adam.SecondMoment, v => v > 0);
    }

    [Fact]
    public void NonFiniteLoss_StopsNamingTheStep_AndKeepsTheLastGoodCheckpoint()
    {
        string run = Fixtures.TempDir("nan");
        using (Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(8) with { StopAt = 2 }, TrainSource, ValSource, run, new TrainerContext()))
            t.Run();
        using (Trainer t = Trainer.Resume(run, Options(8), null, TrainSource, ValSource, new TrainerContext()))
        {
            var cfg = t.Model.Config;
            t.Model.Tensor($"sequential.{cfg.NumLayers + 3}.norm.weight")[0] = float.NaN;
            var e = Assert.Throws<TrainingDivergedException>(() => t.Run());
            Assert.Equal(3, e.Step);
            Assert.Contains("step 3", e.Message);
            Assert.Contains("step-2", e.Message);
        }
        var store = new CheckpointStore(run);
        Assert.Equal([2L], store.List().Select(c => c.Step).ToArray());
        Assert.Empty(Directory.GetDirectories(store.Directory, ".tmp-*"));
        ModelDirectory.Load(store.PathOf(2));
    }

    [Fact]
    public void Interrupt_SavesACheckpointAfterTheCurrentStep_AndResumeContinues()
    {
        string run = Fixtures.TempDir("interrupt");
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        using (Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(4), TrainSource, ValSource, run, new TrainerContext { Stop = stop.Token }))
        {
            TrainingResult r = t.Run();
            Assert.False(r.Finished);
            Assert.Equal(1, r.Step);
        }
        Assert.Equal([1L], new CheckpointStore(run).List().Select(c => c.Step).ToArray());
        using (Trainer t = Trainer.Resume(run, Options(4), null, TrainSource, ValSource, new TrainerContext()))
            Assert.True(t.Run().Finished);
    }

    [Fact]
    public void WindowsLongerThanTheData_AreClearErrors()
    {
        var tiny = new ArrayTokenSource([1, 2, 3, 4, 5]);
        var e = Assert.Throws<SplitTooShortException>(() => Trainer.Start(Fixtures.TinyConfig(), Options(2), tiny, ValSource, Fixtures.TempDir("short"), new TrainerContext()));
        Assert.Contains("train split has 5 tokens", e.Message);
        Assert.Contains("Sequence + 1 = 17", e.Message);
        Assert.Equal((SplitTooShortException.TrainSplit, 5L, 17), (e.Split, e.Tokens, e.WindowTokens));
        e = Assert.Throws<SplitTooShortException>(() => Trainer.Start(Fixtures.TinyConfig(), Options(2), TrainSource, tiny, Fixtures.TempDir("short"), new TrainerContext()));
        Assert.Contains("validation split has 5 tokens", e.Message);
        Assert.Equal(SplitTooShortException.ValidationSplit, e.Split);
        var s = Assert.Throws<InvalidSettingException>(() => Trainer.Start(Fixtures.TinyConfig(), Options(2) with { Sequence = 65 }, TrainSource, ValSource, Fixtures.TempDir("short"), new TrainerContext()));
        Assert.Contains("max_position_embeddings 64", s.Message);
        Assert.Equal(nameof(TrainingOptions.Sequence), s.Setting);
        Assert.DoesNotContain("--", e.Message + s.Message);
        // without evaluation a missing validation split is fine
        using Trainer ok = Trainer.Start(Fixtures.TinyConfig(), Options(1) with { EvalEvery = 0 }, TrainSource, null, Fixtures.TempDir("noval"), new TrainerContext());
        Assert.Equal(1, ok.Run().Step);
    }

    [Fact]
    public void StartingOverAnExistingRun_IsRefused()
    {
        string run = Fixtures.TempDir("twice");
        using (Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(2), TrainSource, ValSource, run, new TrainerContext())) t.Run();
        var e = Assert.Throws<ExistingRunException>(() => Trainer.Start(Fixtures.TinyConfig(), Options(2), TrainSource, ValSource, run, new TrainerContext()));
        Assert.Contains("already holds checkpoints", e.Message);
        Assert.Equal(run, e.RunDirectory);
    }

    [Fact]
    public void EvenlySpacedWindows_CoverTheStream()
    {
        Assert.Equal([0L, 10, 20], Evaluator.EvenlySpaced(35, 10, 100));
        Assert.Equal([0L, 44, 89], Evaluator.EvenlySpaced(100, 10, 3));
        Assert.Empty(Evaluator.EvenlySpaced(10, 10, 3));
    }

    [Fact]
    public void LossCurve_IsWellFormedSvgWithBothPanels()
    {
        var steps = Enumerable.Range(1, 50).Select(i => new StepMetrics(i, 6 - Math.Log(i), 1e-3, 1000, 1, i)).ToList();
        var evals = new List<EvalMetrics> { new(0, 6, Math.Exp(6)), new(25, 3.5, Math.Exp(3.5)), new(50, 2.2, Math.Exp(2.2)) };
        string svg = LossCurveSvg.Render(steps, evals, "test <run>");
        XDocument doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(4, doc.Descendants(ns + "polyline").Count());   // train, running mean, val loss, val perplexity
        Assert.Contains(doc.Descendants(ns + "text"), t => t.Value == "validation perplexity");
        Assert.Contains(doc.Descendants(ns + "text"), t => t.Value == "test <run>");
        Assert.Equal([0.0, 10, 20, 30, 40, 50], LossCurveSvg.Ticks(0, 50));
    }
}
