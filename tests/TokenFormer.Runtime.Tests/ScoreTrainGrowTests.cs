using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;

namespace TokenFormer.Runtime.Tests;

/// <summary><see cref="LanguageModel"/>'s perplexity, training without files, and function-preserving growth.</summary>
public class ScoreTrainGrowTests
{
    /// <summary>
    /// Mean next-token cross-entropy over consecutive non-overlapping windows of <paramref name="t"/> + 1 ids, computed
    /// here from the forward pass's logits (log-sum-exp in double), one window at a time: the definition eval uses.
    /// </summary>
    private static double ReferenceLoss(TokenFormerModel model, int[] ids, int t)
    {
        var runner = new ModelRunner(model, 1, t, training: false);
        double sum = 0;
        long count = 0;
        for (int start = 0; start + t + 1 <= ids.Length; start += t)
        {
            runner.Forward(ids.AsSpan(start, t));
            ReadOnlySpan<float> logits = runner.Logits;
            for (int i = 0; i < t; i++)
            {
                ReadOnlySpan<float> row = logits.Slice(i * model.Vocab, model.Vocab);
                double max = double.NegativeInfinity;
                foreach (float v in row) max = Math.Max(max, v);
                double z = 0;
                foreach (float v in row) z += Math.Exp(v - max);
                sum += max + Math.Log(z) - row[ids[start + i + 1]];
                count++;
            }
        }
        return sum / count;
    }

    [Fact]
    public void Perplexity_IsFinite_AndIsTheMeanLossOverConsecutiveWindows()
    {
        using LanguageModel lm = LanguageModel.Load(Fixtures.ModelDirectory);
        string text = Fixtures.Text;
        TextScore score = lm.Score(text);
        int[] ids = lm.Tokenizer.Encode(text);
        Assert.Equal(ids.Length, score.TextTokens);
        Assert.Equal(Math.Min(256, lm.ContextLength), score.Sequence);   // the default window: the whole context here
        Assert.Equal((ids.Length - 1) / score.Sequence, score.Windows);
        Assert.Equal((long)score.Windows * score.Sequence, score.TokensScored);
        Assert.True(double.IsFinite(score.Perplexity) && score.Perplexity > 1 && score.Perplexity < lm.Tokenizer.VocabSize, $"{score.Perplexity}");
        Assert.Equal(ReferenceLoss(lm.Model, ids, score.Sequence), score.Loss, 4);
        Assert.Equal(Math.Exp(score.Loss), lm.Perplexity(text), 12);
        // other window lengths follow the same definition
        TextScore short16 = lm.Score(text, sequence: 16, batch: 3);
        Assert.Equal(ReferenceLoss(lm.Model, ids, 16), short16.Loss, 4);
        var e = Assert.Throws<InvalidSettingException>(() => lm.Score(text, sequence: lm.ContextLength + 1));
        Assert.Equal("Sequence", e.Setting);
        Assert.Throws<ArgumentException>(() => lm.Score(""));
    }

    [Fact]
    public void TrainingThreeSteps_LowersTheLoss_CallsBack_AndWritesNoFiles()
    {
        using LanguageModel trained = LanguageModel.Load(Fixtures.ModelDirectory);
        var random = new TokenFormerModel(trained.Model.Config.Clone());
        random.InitializeRandom(11);
        using var lm = new LanguageModel(random, trained.Tokenizer);
        string text = Fixtures.Text;
        double before = lm.Score(text).Loss;
        string cwd = Directory.GetCurrentDirectory();
        string[] filesBefore = Snapshot(cwd, Fixtures.ModelDirectory);
        var steps = new List<StepMetrics>();
        TrainingReport report = lm.Train(text, new TrainingOptions { Steps = 3, Batch = 4, Sequence = 32, LearningRate = 1e-2, Warmup = 0 }, steps.Add);
        Assert.Equal(filesBefore, Snapshot(cwd, Fixtures.ModelDirectory));
        Assert.Equal([1L, 2L, 3L], steps.Select(s => s.Step).ToArray());
        Assert.Equal(steps, report.Steps);
        Assert.True(report.Finished);
        Assert.Null(report.LastCheckpoint);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Loss)));
        double after = lm.Score(text).Loss;
        Assert.True(after < before - 0.05, $"loss {before} → {after}");

        // asked for, the run's files are written as the CLI writes them
        string run = Path.Combine(Fixtures.TempDir("run"), "run");
        TrainingReport saved = lm.Train(text, new TrainingOptions { Steps = 2, Batch = 2, Sequence = 32, Warmup = 0 }, runDirectory: run,
            validationText: text, onEvaluation: _ => { });
        Assert.Equal(new CheckpointStore(run).PathOf(2), saved.LastCheckpoint);
        Assert.True(File.Exists(Path.Combine(run, Trainer.MetricsFile)));
        Assert.Equal(2, saved.Evaluations.Count);   // step 0 and the last step
    }

    /// <summary>Every file directly in the given folders (path, length, write time), sorted.</summary>
    private static string[] Snapshot(params string[] roots) => roots
        .SelectMany(r => new DirectoryInfo(r).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = false, IgnoreInaccessible = true }))
        .Select(f => $"{f.FullName} {f.Length} {f.LastWriteTimeUtc.Ticks}")
        .Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Growing_KeepsTheFunction_SameLogits()
    {
        using LanguageModel lm = LanguageModel.Load(Fixtures.ModelDirectory);
        float[] original = (float[])lm.Model.Parameters.Clone();
        using LanguageModel grown = lm.Grow(2.0);
        Assert.Equal(original, lm.Model.Parameters);                       // the source is not changed
        Assert.Equal(TokenCounts.Of(lm.Model.Config).Scale(2.0), TokenCounts.Of(grown.Model.Config));
        Assert.True(grown.Model.Parameters.Length > lm.Model.Parameters.Length);

        int[] ids = lm.Tokenizer.Encode(Fixtures.Text)[..48];
        float[] before = Logits(lm.Model, ids), after = Logits(grown.Model, ids);
        float scale = before.Max(Math.Abs);
        double worst = before.Zip(after, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5 * scale + 1e-6, $"largest logit difference {worst} (logits up to {scale})");
        Assert.Equal(lm.Score(Fixtures.Text).Loss, grown.Score(Fixtures.Text).Loss, 5);
        var greedy = new GenerationSettings { MaxNewTokens = 20, Temperature = 0 };
        Assert.Equal(lm.Generate("The", greedy).Text, grown.Generate("The", greedy).Text);

        var e = Assert.Throws<InvalidSettingException>(() => lm.Grow(0.5));
        Assert.Equal("Factor", e.Setting);
        e = Assert.Throws<InvalidSettingException>(() => lm.Grow(new TokenCounts(16, 64, 128)));
        Assert.Equal("Qkv", e.Setting);
        Assert.DoesNotContain("--", e.Message);
    }

    private static float[] Logits(TokenFormerModel model, int[] ids)
    {
        var runner = new ModelRunner(model, 1, ids.Length, training: false);
        runner.Forward(ids);
        return runner.Logits.ToArray();
    }
}
