using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;

namespace TokenFormer.Model.Tests.Training;

// After the namespace line, so that Fixtures means the shared training data rather than this project's Fixtures class.
using Fixtures = TokenFormer.TestSupport.TrainingFixtures;
using static TokenFormer.Model.Tests.Training.GrowthTrainingData;

/// <summary>
/// Training a grown model: the new tokens learn (their norms change), <c>FreezeOld</c> leaves every old parameter
/// bit-identical (also across a resume) and a grown model's validation loss equals its source's. The <c>grow</c> and
/// <c>train --init-from</c> verbs are tested in TokenFormer.Cli.Tests (GrowCliTests).
/// </summary>
public class GrowthTrainingTests
{
    /// <summary>A briefly trained tiny model, grown ×2 in every Pattention.</summary>
    private static (TokenFormerModel Small, TokenFormerModel Grown) TrainedAndGrown(GrowthMode mode)
    {
        TokenFormerModel small;
        using (Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(4) with { EvalEvery = 0 }, TrainSource, null, Fixtures.TempDir("grow-src"), new TrainerContext()))
        {
            t.Run();
            small = t.Model;
        }
        var target = new TokenCounts(small.Config.QkvSlotNum * 2, small.Config.ProjSlotNum * 2, small.Config.FfnSlotNum * 2);
        return (small, ModelGrower.Grow(small, new GrowthOptions(target, mode, Seed: 21)));
    }

    /// <summary>L2 norm of the rows [from, to) of a [n, d] tensor.</summary>
    private static double RowsNorm(TokenFormerModel m, string name, int from, int to)
    {
        int d = m.Config.HiddenSize;
        ReadOnlySpan<float> s = m.Tensor(name).Slice(from * d, (to - from) * d);
        double sum = 0;
        foreach (float v in s) sum += (double)v * v;
        return Math.Sqrt(sum);
    }

    private static readonly string[] Groups = ["attention.query", "attention.key", "attention.value", "attention.proj", "mlp"];

    private static (int Old, int New) Rows(TokenFormerConfig c, GrowthStage stage, string group) => group switch
    {
        "mlp" => (stage.OldTokens.Ffn, c.FfnSlotNum),
        "attention.proj" => (stage.OldTokens.Proj, c.ProjSlotNum),
        _ => (stage.OldTokens.Qkv, c.QkvSlotNum),
    };

    [Fact]
    public void AfterPreserveGrowth_TrainingMovesTheNewTokens()
    {
        var (small, grown) = TrainedAndGrown(GrowthMode.Preserve);
        GrowthStage stage = GrowthLineage.Last(grown.Config)!;
        var before = new Dictionary<string, double>();
        foreach (string g in Groups)
            foreach (string kind in new[] { "key_param_tokens", "value_param_tokens" })
            {
                string name = ParameterLayout.LayerKey(0, g + "." + kind);
                var (o, n) = Rows(grown.Config, stage, g);
                before[name] = RowsNorm(grown, name, o, n);
                if (kind == "key_param_tokens") Assert.Equal(0, before[name]);
                else Assert.True(before[name] > 0);
            }

        using Trainer t = Trainer.StartFrom(grown, Options(6), TrainSource, ValSource, Fixtures.TempDir("grow-train"), new TrainerContext(), "test");
        // the first evaluation (step 0) sees the source's function
        double startVal = t.EvaluateValidation().Loss;
        var srcRunner = new ModelRunner(small, 5, 16, training: false);
        double srcVal = new Evaluator(srcRunner).Run(ValSource, Evaluator.EvenlySpaced(ValSource.Count, 16, 5)).Loss;
        Assert.True(Math.Abs(startVal - srcVal) <= 1e-5, $"grown model's validation loss {startVal} vs source {srcVal}");
        t.Run();
        foreach (var (name, norm0) in before)
        {
            string group = Groups.First(g => name.Contains("." + g + "."));
            var (o, n) = Rows(grown.Config, stage, group);
            double norm1 = RowsNorm(t.Model, name, o, n);
            Assert.True(Math.Abs(norm1 - norm0) > 1e-4 * Math.Max(norm0, 1e-3), $"{name}: the new rows' norm stayed {norm0} → {norm1}");
            if (name.EndsWith("key_param_tokens")) Assert.True(norm1 > 1e-4, $"{name}: new key rows still ≈ 0 ({norm1})");
        }
    }

    [Fact]
    public void FreezeOld_LeavesOldParametersBitIdentical_AlsoAcrossResume()
    {
        var (_, grown) = TrainedAndGrown(GrowthMode.Official);
        float[] start = grown.Parameters.ToArray();
        List<ParameterRange> old = OldParameters.Ranges(grown);
        string run = Fixtures.TempDir("freeze");
        using (Trainer t = Trainer.StartFrom(grown, Options(6) with { FreezeOld = true, StopAt = 3 }, TrainSource, ValSource, run, new TrainerContext()))
        {
            Assert.NotNull(t.Frozen);
            Assert.Equal(old.Sum(r => (long)r.Length), t.Frozen!.Count);
            Assert.False(t.Run().Finished);
        }
        float[] end;
        using (Trainer t = Trainer.Resume(run, Options(6), null, TrainSource, ValSource, new TrainerContext()))
        {
            Assert.True(t.Options.FreezeOld, "the checkpoint keeps --freeze-old");
            Assert.True(t.Run().Finished);
            end = t.Model.Parameters.ToArray();
        }
        var isOld = new bool[start.Length];
        foreach (ParameterRange r in old) isOld.AsSpan(r.Offset, r.Length).Fill(true);
        int changedNew = 0;
        for (int i = 0; i < start.Length; i++)
        {
            if (isOld[i]) Assert.True(BitConverter.SingleToInt32Bits(start[i]) == BitConverter.SingleToInt32Bits(end[i]), $"old parameter {i} changed: {start[i]} → {end[i]}");
            else if (start[i] != end[i]) changedNew++;
        }
        int newCount = start.Length - old.Sum(r => r.Length);
        Assert.True(changedNew > newCount * 0.9, $"only {changedNew} of {newCount} new parameters changed");

        // without --freeze-old the old rows move too
        var (_, again) = TrainedAndGrown(GrowthMode.Official);
        float[] s2 = again.Parameters.ToArray();
        using (Trainer t = Trainer.StartFrom(again, Options(3), TrainSource, ValSource, Fixtures.TempDir("nofreeze"), new TrainerContext())) t.Run();
        Assert.Contains(old, r => !s2.AsSpan(r.Offset, r.Length).SequenceEqual(again.Parameters.AsSpan(r.Offset, r.Length)));
    }

    [Theory]
    [InlineData(GrowthMode.Preserve)]
    [InlineData(GrowthMode.Official)]
    public void SkippingFrozenGradients_LeavesTheTrainedOnesAsTheyWere(GrowthMode mode)
    {
        // one backward with every gradient, one that leaves out the old tokens' and the embedding's: the trained rows
        // agree, the frozen ones stay zero
        var (_, grown) = TrainedAndGrown(mode);
        GrowthStage stage = GrowthLineage.Last(grown.Config)!;
        var full = new ModelRunner(grown, batch: 2, sequence: 12, training: true);
        var skipping = new ModelRunner(grown, batch: 2, sequence: 12, training: true);
        skipping.SkipFrozenGradients(stage.OldTokens);
        var rng = new Random(3);
        int vocab = grown.Vocab;
        int[] tokens = Enumerable.Range(0, full.Rows).Select(_ => rng.Next(vocab)).ToArray();
        int[] targets = Enumerable.Range(0, full.Rows).Select(_ => rng.Next(vocab)).ToArray();
        foreach (ModelRunner r in new[] { full, skipping })
        {
            r.Forward(tokens, targets, computeGradient: true);
            r.Backward();
        }
        float[] g = full.Gradients!, gs = skipping.Gradients!;
        var isOld = new bool[g.Length];
        foreach (ParameterRange r in OldParameters.Ranges(grown)) isOld.AsSpan(r.Offset, r.Length).Fill(true);
        double scale = g.Max(v => Math.Abs((double)v));
        int trained = 0;
        foreach (ParameterTensor t in grown.Layout.Tensors)
            for (int i = t.Offset; i < t.Offset + t.Length; i++)
            {
                bool frozenHere = isOld[i] && t.Role != ParameterRole.FinalNormWeight && t.Role != ParameterRole.FinalNormBias;
                if (frozenHere) Assert.True(gs[i] == 0, $"{mode}: {t.Name}[{i - t.Offset}] is frozen but has gradient {gs[i]}");
                else
                {
                    Assert.True(Math.Abs(gs[i] - g[i]) <= 1e-6 * scale, $"{mode}: {t.Name}[{i - t.Offset}] = {gs[i]}, with every gradient {g[i]}");
                    trained++;
                }
            }
        Assert.True(trained > 0);
    }

    [Fact]
    public void FreezeOld_TrainsTheSame_WithAndWithoutTheFrozenGradients()
    {
        // the trainer leaves the frozen gradients out; with them computed (and zeroed after) the run ends the same
        float[] Train(bool skip)
        {
            var (_, grown) = TrainedAndGrown(GrowthMode.Preserve);
            bool saved = Trainer.SkipFrozenGradients;
            Trainer.SkipFrozenGradients = skip;
            try
            {
                using Trainer t = Trainer.StartFrom(grown, Options(4) with { FreezeOld = true, EvalEvery = 0 }, TrainSource, null, Fixtures.TempDir("skipfrozen"), new TrainerContext());
                t.Run();
                return t.Model.Parameters.ToArray();
            }
            finally { Trainer.SkipFrozenGradients = saved; }
        }
        float[] with = Train(skip: false), without = Train(skip: true);
        double worst = 0;
        for (int i = 0; i < with.Length; i++) worst = Math.Max(worst, Math.Abs(with[i] - without[i]));
        Assert.True(worst <= 1e-5, $"parameters differ by up to {worst} after 4 steps");
    }

    [Fact]
    public void FreezeOld_OnAModelWithoutLineage_IsRefused()
    {
        var model = new TokenFormerModel(Fixtures.TinyConfig());
        model.InitializeRandom(1);
        var e = Assert.Throws<InvalidSettingException>(() => Trainer.StartFrom(model, Options(2) with { FreezeOld = true }, TrainSource, null, Fixtures.TempDir("nolineage"), new TrainerContext()));
        Assert.Equal(nameof(TrainingOptions.FreezeOld), e.Setting);
        Assert.Contains("no growth lineage", e.Message);
    }
}
