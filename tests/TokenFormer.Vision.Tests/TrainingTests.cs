using TokenFormer.TestSupport;
using TokenFormer.Vision.Data;
using TokenFormer.Vision.Training;

namespace TokenFormer.Vision.Tests;

/// <summary>The vision training loop: it learns a separable task, resumes exactly, and writes its files.</summary>
public sealed class TrainingTests
{
    private static VisionModel NewModel()
    {
        var config = VisionConfig.Create(8, 1, 4, 4, 2, 16, 2, 16, 16, 32, [0.3], [0.3], ["bar0", "bar1", "bar2", "bar3"]);
        var model = new VisionModel(config);
        model.InitializeRandom(7);
        return model;
    }

    private static VisionTrainingOptions Options(long steps) => new()
    {
        Steps = steps, Batch = 16, LearningRate = 3e-3, Warmup = 5, EvalEvery = 5, SaveEvery = 4, KeepLast = 0, CropPadding = 1, Flip = true, Seed = 5,
    };

    [Fact]
    public void LearnsSyntheticBars()
    {
        VisionModel model = NewModel();
        ImageDataset train = TestImages.Bars(256, 8, 4, 1), test = TestImages.Bars(64, 8, 4, 2);
        var before = VisionEvaluator.Evaluate(new VisionNetwork(model, 16), test);
        var r = new VisionTrainer(model, train, test, Options(200) with { CropPadding = 0, Flip = false, EvalEvery = 0 }, null, TextWriter.Null, "bars").Run();
        Assert.True(r.LastEvaluation!.Accuracy >= 0.95, $"accuracy {r.LastEvaluation.Accuracy} after training (before: {before.Accuracy})");
        Assert.True(r.LastEvaluation.Loss < before.Loss / 2, $"test loss {before.Loss} → {r.LastEvaluation.Loss}");
    }

    [Fact]
    public void StopAndResumeEqualsTheStraightRunBitForBit()
    {
        ImageDataset train = TestImages.Bars(64, 8, 4, 1), test = TestImages.Bars(16, 8, 4, 2);
        string straight = TempFolders.Create("vision-straight"), split = TempFolders.Create("vision-split");
        VisionModel a = NewModel();
        new VisionTrainer(a, train, test, Options(10), straight, TextWriter.Null, "bars").Run();

        VisionModel b = NewModel();
        var first = new VisionTrainer(b, train, test, Options(10) with { StopAt = 4 }, split, TextWriter.Null, "bars").Run();
        Assert.Equal(4, first.Step);
        string checkpoint = new VisionCheckpoint(split).List().Last().Path;
        VisionModel resumed = VisionModel.Load(checkpoint);
        new VisionTrainer(resumed, train, test, Options(10), split, TextWriter.Null, "bars").Run(checkpoint);

        Assert.Equal(a.Core.Parameters, resumed.Core.Parameters);
        Assert.Equal(a.Stem, resumed.Stem);
        Assert.NotEqual(b.Core.Parameters, resumed.Core.Parameters); // the resumed run did train on
        // metrics.jsonl: the same records but for the wall-clock field
        static string[] WithoutTimes(string path) => File.ReadAllLines(path).Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\"elapsed_s\":[^,}]*", "")).ToArray();
        string[] m1 = WithoutTimes(Path.Combine(straight, VisionTrainer.MetricsFile)), m2 = WithoutTimes(Path.Combine(split, VisionTrainer.MetricsFile));
        Assert.Equal(10 + 2, m1.Length);
        Assert.Equal(m1, m2);
        foreach (string f in new[] { "loss.svg", "accuracy.svg" }) Assert.True(File.Exists(Path.Combine(split, f)), f);
        Assert.Equal([4L, 8L, 10L], new VisionCheckpoint(split).List().Select(x => x.Step).ToArray());
        // the optimiser state came back too: the step-10 moments of both runs are equal
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "checkpoints", "step-10", VisionCheckpoint.OptimizerFile)),
            File.ReadAllBytes(Path.Combine(split, "checkpoints", "step-10", VisionCheckpoint.OptimizerFile)));
    }

    [Fact]
    public void SavedModelLoadsBackWithTheSameLogits()
    {
        VisionModel model = VisionFiniteDifferenceTests.SmallModel(3, 12, 3, 4);
        string dir = TempFolders.Create("vision-save");
        model.Save(dir);
        VisionModel back = VisionModel.Load(dir);
        Assert.Equal(model.Config.ToJson(), back.Config.ToJson());
        float[] images = VisionFiniteDifferenceTests.RandomImages(model.Config, 2, 9);
        var n1 = new VisionNetwork(model, 2);
        var n2 = new VisionNetwork(back, 2);
        n1.Forward(images); n2.Forward(images);
        Assert.Equal(n1.Logits, n2.Logits);
    }

    [Fact]
    public void AModelDirectoryWithAWrongTensorShapeIsRefusedNamingFileAndTensor()
    {
        VisionModel model = VisionFiniteDifferenceTests.SmallModel(3);
        string dir = TempFolders.Create("vision-bad-shape");
        model.Save(dir);
        // the config now says 7×7 patches on 14×14 images: the patch weight no longer fits
        string cfg = Path.Combine(dir, VisionModel.ConfigFile);
        File.WriteAllText(cfg, File.ReadAllText(cfg).Replace("\"image_size\": 8", "\"image_size\": 16"));
        var e = Assert.ThrowsAny<Exception>(() => VisionModel.Load(dir));
        Assert.True(e is VisionFormatException or Model.TokenFormerConfigException, e.GetType().Name);
        Assert.Contains(cfg, e.Message);
    }
}

/// <summary>Growing a vision model: preserve mode computes the same function, the stem is copied, official mode changes it.</summary>
public sealed class GrowthTests
{
    [Theory]
    [InlineData(1, 8, 4)]
    [InlineData(3, 12, 4)]
    public void PreserveGrowthKeepsTheLogits(int channels, int size, int patch)
    {
        VisionModel model = VisionFiniteDifferenceTests.SmallModel(21, size, channels, patch);
        float[] images = VisionFiniteDifferenceTests.RandomImages(model.Config, 3, 2);
        var before = new VisionNetwork(model, 3);
        before.Forward(images);
        VisionModel grown = VisionGrower.Grow(model, new Model.Growth.GrowthOptions(new Model.Growth.TokenCounts(48, 32, 96)));
        Assert.Equal(48, grown.Config.Blocks.QkvSlotNum);
        Assert.True(grown.Core.Parameters.Length > 3 * model.Core.Parameters.Length);
        Assert.Equal(model.Stem, grown.Stem);
        var after = new VisionNetwork(grown, 3);
        after.Forward(images);
        float max = before.Logits.Max(MathF.Abs);
        for (int i = 0; i < before.Logits.Length; i++)
            Assert.True(MathF.Abs(before.Logits[i] - after.Logits[i]) <= 1e-5f * max, $"logit {i}: {before.Logits[i]} → {after.Logits[i]}");

        VisionModel official = VisionGrower.Grow(model, new Model.Growth.GrowthOptions(new Model.Growth.TokenCounts(48, 32, 96), Model.Growth.GrowthMode.Official));
        var changed = new VisionNetwork(official, 3);
        changed.Forward(images);
        float moved = Enumerable.Range(0, before.Logits.Length).Max(i => MathF.Abs(before.Logits[i] - changed.Logits[i]));
        Assert.True(moved > 1e-3f * max, $"official growth moved the logits by only {moved}");

        // the grown model saves and loads back (lineage kept), and trains
        string dir = TempFolders.Create("vision-grown");
        grown.Save(dir);
        VisionModel back = VisionModel.Load(dir);
        Assert.Equal(grown.Core.Parameters, back.Core.Parameters);
        Assert.Contains("growth", File.ReadAllText(Path.Combine(dir, VisionModel.ConfigFile)));
    }
}
