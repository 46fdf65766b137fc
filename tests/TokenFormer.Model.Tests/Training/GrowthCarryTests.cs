using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Optimizer;
using TokenFormer.Model.Training;

namespace TokenFormer.Model.Tests.Training;

// After the namespace line, so that Fixtures means the shared training data rather than this project's Fixtures class.
using Fixtures = TokenFormer.TestSupport.TrainingFixtures;
using static TokenFormer.Model.Tests.Training.GrowthTrainingData;

/// <summary>
/// Carrying AdamW across growth (<see cref="ModelGrower.GrowOptimizer"/>, <see cref="CarriedOptimizer"/>), the
/// growth schedules (<see cref="ScheduleKind"/>) and <see cref="TrainingOptions.OldLearningRateScale"/>; the CLI side
/// is in TokenFormer.Cli.Tests (GrowCarryCliTests).
/// </summary>
public class GrowthCarryTests
{
    /// <summary>A tiny model trained 4 steps (of a 10-step cosine, so its schedule is mid-way) and its step-4 checkpoint.</summary>
    private static (TokenFormerModel Small, string Checkpoint) TrainedSource()
    {
        string run = Fixtures.TempDir("carry-src");
        using Trainer t = Trainer.Start(Fixtures.TinyConfig(), Options(10) with { EvalEvery = 0, StopAt = 4 }, TrainSource, null, run, new TrainerContext());
        t.Run();
        return (t.Model, new CheckpointStore(run).PathOf(4));
    }

    private static TokenFormerModel Grow(TokenFormerModel small) =>
        ModelGrower.Grow(small, new GrowthOptions(new TokenCounts(small.Config.QkvSlotNum * 2, small.Config.ProjSlotNum + 8, small.Config.FfnSlotNum * 2), GrowthMode.Preserve, Seed: 5));

    private static int Bits(float f) => BitConverter.SingleToInt32Bits(f);

    [Fact]
    public void GrowOptimizer_PutsOldMomentsAtTheirRows_NewRowsAtZero_AndCarriesTheStep()
    {
        var (small, checkpoint) = TrainedSource();
        AdamW source = CarriedOptimizer.Load(small, checkpoint);
        Assert.Equal(4, source.Step);
        TokenFormerModel grown = Grow(small);
        AdamW carried = ModelGrower.GrowOptimizer(small, source, grown);
        Assert.Equal(4, carried.Step);
        int grewTensors = 0;
        foreach (ParameterTensor t in grown.Layout.Tensors)
        {
            ParameterTensor s = small.Layout.Find(t.Name)!;
            foreach (var (from, to) in new[] { (source.FirstMoment, carried.FirstMoment), (source.SecondMoment, carried.SecondMoment) })
            {
                ReadOnlySpan<float> old = from.AsSpan(s.Offset, s.Length), head = to.AsSpan(t.Offset, s.Length), tail = to.AsSpan(t.Offset + s.Length, t.Length - s.Length);
                Assert.True(old.SequenceEqual(head), $"{t.Name}: the old rows' moments moved");
                Assert.True(old.ContainsAnyExcept(0f), $"{t.Name}: the source moments are all zero, so the comparison proves nothing");
                Assert.False(tail.ContainsAnyExcept(0f), $"{t.Name}: a new row has a non-zero moment");
            }
            if (t.Length > s.Length) grewTensors++;
        }
        Assert.Equal(5 * 2, grewTensors);   // query, key, value, proj, mlp: keys and values of the one layer

        // beside a grown model: the same moments and the source schedule read back
        string dir = Fixtures.TempDir("carry-dir");
        ModelDirectory.Save(grown, dir);
        SourceSchedule? schedule = CarriedOptimizer.ReadSchedule(checkpoint);
        Assert.NotNull(schedule);
        TrainerState state = TrainerState.Load(Path.Combine(checkpoint, TrainerState.FileName));
        Assert.Equal((3e-3, 3e-4, 1L, 10L, 0L, 4L), (schedule!.Peak, schedule.Min, schedule.Warmup, schedule.Total, schedule.Offset, schedule.Step));
        Assert.Equal(state.NextLearningRate, schedule.FinalLearningRate);
        CarriedOptimizer.Save(grown, carried, schedule, dir);
        AdamW back = CarriedOptimizer.Load(grown, dir);
        Assert.Equal(4, back.Step);
        Assert.Equal(carried.FirstMoment, back.FirstMoment);
        Assert.Equal(carried.SecondMoment, back.SecondMoment);
        Assert.Equal(schedule, CarriedOptimizer.ReadSchedule(dir));
        // a model that was not grown from the source is refused
        Assert.Throws<GrowthException>(() => ModelGrower.GrowOptimizer(grown, back, small));
        Assert.Throws<FileNotFoundException>(() => CarriedOptimizer.Load(grown, Fixtures.TempDir("carry-none")));
        Assert.Null(CarriedOptimizer.ReadSchedule(Fixtures.TempDir("carry-none2")));
    }

    [Fact]
    public void Schedules_Cosine_Continue_AndRewarm_FollowTheirCurves()
    {
        var src = new SourceSchedule { Peak = 1e-3, Min = 1e-4, Warmup = 10, Total = 110, Step = 60 };
        var baseOptions = new TrainingOptions { Steps = 105, LearningRate = 6e-4, MinLearningRate = 1e-5, Warmup = 5, SourceSchedule = src };

        // cosine: today's curve, the source is ignored
        LearningRateSchedule cosine = LearningRateSchedule.For(baseOptions);
        Assert.Equal(new LearningRateSchedule(6e-4, 1e-5, 5, 105), cosine);
        Assert.Equal(0, cosine.At(0));
        Assert.Equal(6e-4, cosine.At(5), 12);

        // continue: the source's curve from step 60 on (half-way through its cosine), then its floor
        LearningRateSchedule cont = LearningRateSchedule.For(baseOptions with { Schedule = ScheduleKind.Continue });
        Assert.Equal(1e-4 + 0.9e-3 / 2, cont.At(0), 12);
        for (long t = 0; t < 70; t++) Assert.Equal(src.Curve.At(60 + t), cont.At(t));
        Assert.Equal(1e-4, cont.At(50), 12);
        Assert.Equal(1e-4, cont.At(100), 12);
        Assert.Equal(src.FinalLearningRate, cont.At(0));
        // a source that itself continued another run keeps counting from there
        var src2 = SourceSchedule.Of(baseOptions with { Schedule = ScheduleKind.Continue }, 20);
        Assert.Equal(80, src2.Offset + src2.Step);
        Assert.Equal(src.Curve.At(80), LearningRateSchedule.For(baseOptions with { Schedule = ScheduleKind.Continue, SourceSchedule = src2 }).At(0));

        // rewarm: linear from 0 to the source's final rate over the warmup, then cosine to the run's floor
        LearningRateSchedule rewarm = LearningRateSchedule.For(baseOptions with { Schedule = ScheduleKind.Rewarm });
        double final = src.FinalLearningRate;
        Assert.Equal(0, rewarm.At(0));
        Assert.Equal(final * 2 / 5, rewarm.At(2), 15);
        Assert.Equal(final, rewarm.At(5), 15);
        Assert.Equal(1e-5 + (final - 1e-5) / 2, rewarm.At(55), 12);
        Assert.Equal(1e-5, rewarm.At(105), 15);
        for (long t = 5; t < 105; t++) Assert.True(rewarm.At(t + 1) < rewarm.At(t), $"rewarm rises at {t}");

        // the source's schedule is needed, and rewarm's floor must be below its peak
        var e = Assert.Throws<InvalidSettingException>(() => (baseOptions with { Schedule = ScheduleKind.Continue, SourceSchedule = null }).Validate());
        Assert.Equal(nameof(TrainingOptions.Schedule), e.Setting);
        e = Assert.Throws<InvalidSettingException>(() => (baseOptions with { Schedule = ScheduleKind.Rewarm, MinLearningRate = 1e-3 }).Validate());
        Assert.Equal(nameof(TrainingOptions.MinLearningRate), e.Setting);
        Assert.Contains("final learning rate", e.Message);
        // continue does not use the run's own peak, so a floor above it is no error there
        (baseOptions with { Schedule = ScheduleKind.Continue, MinLearningRate = 1e-3 }).Validate();
        Assert.Throws<InvalidSettingException>(() => ScheduleKinds.Parse("linear"));
        Assert.Equal(ScheduleKind.Rewarm, ScheduleKinds.Parse(ScheduleKinds.Name(ScheduleKind.Rewarm)));
    }

    [Fact]
    public void Schedules_Wsd_HoldsThePeak_AndContinueDecaysOnlyAStableSource()
    {
        var o = new TrainingOptions { Steps = 100, LearningRate = 1e-3, MinLearningRate = 1e-4, Warmup = 10, Schedule = ScheduleKind.Wsd };
        // default: the last fifth decays; the cosine runs from the peak at step 80 to the floor at step 100
        LearningRateSchedule wsd = LearningRateSchedule.For(o);
        Assert.Equal(0.5e-3, wsd.At(5), 15);
        for (long t = 10; t <= 80; t++) Assert.Equal(1e-3, wsd.At(t), 15);
        Assert.Equal(1e-4 + 0.9e-3 / 2, wsd.At(90), 12);
        Assert.Equal(1e-4, wsd.At(100), 15);
        for (long t = 80; t < 100; t++) Assert.True(wsd.At(t + 1) < wsd.At(t), $"wsd does not decay at {t}");
        // no decay steps: the peak for ever, also past the run's end (what a grown model continues from)
        LearningRateSchedule stable = LearningRateSchedule.For(o with { DecaySteps = 0 });
        Assert.Equal(1e-3, stable.At(100), 15);
        Assert.Equal(1e-3, stable.At(1_000_000), 15);
        var source = SourceSchedule.Of(o with { DecaySteps = 0 }, 100);
        Assert.Equal(LearningRateSchedule.Never, source.DecayStart);
        Assert.True(source.Curve.HeldAt(100));
        Assert.Equal(1e-3, source.FinalLearningRate, 15);

        // continue from the stable source: its rate held, then the run's own decay over its last fifth to its floor
        var grown = new TrainingOptions { Steps = 50, MinLearningRate = 2e-5, Schedule = ScheduleKind.Continue, SourceSchedule = source };
        grown.Validate();
        Assert.Equal(10, LearningRateSchedule.DecayStepsOf(grown));
        LearningRateSchedule cont = LearningRateSchedule.For(grown);
        for (long t = 0; t <= 40; t++) Assert.Equal(1e-3, cont.At(t), 15);
        Assert.Equal(2e-5, cont.At(50), 15);
        for (long t = 40; t < 50; t++) Assert.True(cont.At(t + 1) < cont.At(t), $"continue does not decay at {t}");
        Assert.Equal(1e-3, LearningRateSchedule.For(grown with { DecaySteps = 0 }).At(50), 15);
        Assert.Equal(2e-5, LearningRateSchedule.For(grown with { DecaySteps = 50 }).At(50), 15);

        // a source at its floor (a cosine past its end) is held too: the floor, then the run's decay to its own floor
        var finished = grown with { SourceSchedule = new SourceSchedule { Peak = 1e-3, Min = 1e-4, Warmup = 10, Total = 110, Step = 110 } };
        finished.Validate();
        LearningRateSchedule fromFloor = LearningRateSchedule.For(finished);
        for (long t = 0; t <= 40; t++) Assert.Equal(1e-4, fromFloor.At(t), 15);
        Assert.Equal(2e-5, fromFloor.At(50), 15);
        // a source stopped mid-cosine is followed as it is: no decay by default, and asking for one is refused
        var cosineSource = new SourceSchedule { Peak = 1e-3, Min = 1e-4, Warmup = 10, Total = 110, Step = 60 };
        var fromCosine = grown with { SourceSchedule = cosineSource };
        Assert.Equal(0, LearningRateSchedule.DecayStepsOf(fromCosine));
        Assert.Equal(cosineSource.Curve.At(60 + 7), LearningRateSchedule.For(fromCosine).At(7));
        var e = Assert.Throws<InvalidSettingException>(() => (fromCosine with { DecaySteps = 5 }).Validate());
        Assert.Equal(nameof(TrainingOptions.DecaySteps), e.Setting);
        Assert.Contains("mid-ramp", e.Message);
        // decay steps only where a schedule uses them, and within the run
        e = Assert.Throws<InvalidSettingException>(() => (o with { Schedule = ScheduleKind.Cosine, DecaySteps = 5 }).Validate());
        Assert.Equal(nameof(TrainingOptions.DecaySteps), e.Setting);
        e = Assert.Throws<InvalidSettingException>(() => (o with { DecaySteps = 101 }).Validate());
        Assert.Equal(nameof(TrainingOptions.DecaySteps), e.Setting);
        e = Assert.Throws<InvalidSettingException>(() => (grown with { MinLearningRate = 2e-3 }).Validate());
        Assert.Equal(nameof(TrainingOptions.MinLearningRate), e.Setting);
        Assert.Equal(ScheduleKind.Wsd, ScheduleKinds.Parse("WSD"));

        // the stable source survives its JSON form (decay_start as a number), so a grown directory can carry it
        string json = System.Text.Json.JsonSerializer.Serialize(source);
        Assert.Contains("\"decay_start\"", json);
        Assert.Equal(source, System.Text.Json.JsonSerializer.Deserialize<SourceSchedule>(json));
    }

    [Fact]
    public void AdamW_ScaledRanges_MoveAtTheScaledRate_TheRestAsBefore_WithoutAllocating()
    {
        var (small, _) = TrainedSource();
        int n = small.Parameters.Length;
        var rng = new Random(9);
        float[] g = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[] pa = small.Parameters.ToArray(), pb = pa.ToArray(), pc = pa.ToArray();
        var a = new AdamW(small.Layout);
        var b = new AdamW(small.Layout);
        var c = new AdamW(small.Layout);
        // one range inside a tensor and one across the embedding's end into the next tensor
        ParameterTensor second = small.Layout.Tensors[1];
        var ranges = new List<ParameterRange> { new(second.Offset - 50, 100), new(second.Offset + second.Length + 7, 33) };
        a.ScaleLearningRate(ranges, 0.25f);
        var inRange = new bool[n];
        foreach (ParameterRange r in ranges) inRange.AsSpan(r.Offset, r.Length).Fill(true);
        for (int step = 0; step < 3; step++)
        {
            a.Update(pa, g, 1e-2f);
            b.Update(pb, g, 1e-2f);
            c.Update(pc, g, 1e-2f * 0.25f);
        }
        for (int i = 0; i < n; i++)
            Assert.True(Bits(pa[i]) == Bits(inRange[i] ? pc[i] : pb[i]), $"parameter {i} (scaled: {inRange[i]}): {pa[i]} vs {(inRange[i] ? pc[i] : pb[i])}");
        Assert.Equal(b.FirstMoment, a.FirstMoment);   // moments do not depend on the learning rate
        Assert.Contains(Enumerable.Range(0, n), i => inRange[i] && pb[i] != pc[i]);
        // the segmented update stays allocation-free once warmed up (read on the calling thread, which sets up every job)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 3; step++) a.Update(pa, g, 1e-2f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void OldLearningRateScaleZero_KeepsOldParametersBitIdentical_WhileNewOnesTrain()
    {
        var (small, _) = TrainedSource();
        TokenFormerModel grown = Grow(small);
        float[] start = grown.Parameters.ToArray();
        List<ParameterRange> old = OldParameters.Ranges(grown);
        using (Trainer t = Trainer.StartFrom(grown, Options(4) with { OldLearningRateScale = 0 }, TrainSource, ValSource, Fixtures.TempDir("oldlr0"), new TrainerContext()))
            t.Run();
        var isOld = new bool[start.Length];
        foreach (ParameterRange r in old) isOld.AsSpan(r.Offset, r.Length).Fill(true);
        int changedNew = 0, newCount = 0;
        for (int i = 0; i < start.Length; i++)
        {
            if (isOld[i]) Assert.True(Bits(start[i]) == Bits(grown.Parameters[i]), $"old parameter {i} changed: {start[i]} → {grown.Parameters[i]}");
            else { newCount++; if (start[i] != grown.Parameters[i]) changedNew++; }
        }
        Assert.True(changedNew > newCount * 0.9, $"only {changedNew} of {newCount} new parameters changed");

        // at scale 0.5 the old parameters move, less than at 1
        double Moved(double scale)
        {
            TokenFormerModel m = Grow(small);
            float[] s = m.Parameters.ToArray();
            using (Trainer t = Trainer.StartFrom(m, Options(4) with { OldLearningRateScale = scale, EvalEvery = 0 }, TrainSource, null, null, new TrainerContext())) t.Run();
            double sum = 0;
            for (int i = 0; i < s.Length; i++) if (isOld[i]) sum += Math.Abs(m.Parameters[i] - s[i]);
            return sum;
        }
        double half = Moved(0.5), full = Moved(1);
        Assert.True(half > 0 && half < full, $"old parameters moved {half} at scale 0.5 and {full} at 1");

        // only for a grown model, and not together with FreezeOld
        var plain = new TokenFormerModel(Fixtures.TinyConfig());
        plain.InitializeRandom(1);
        var e = Assert.Throws<InvalidSettingException>(() => Trainer.StartFrom(plain, Options(2) with { OldLearningRateScale = 0.5 }, TrainSource, null, null, new TrainerContext()));
        Assert.Equal(nameof(TrainingOptions.OldLearningRateScale), e.Setting);
        Assert.Contains("no growth lineage", e.Message);
        e = Assert.Throws<InvalidSettingException>(() => Trainer.StartFrom(Grow(small), Options(2) with { OldLearningRateScale = 0.5, FreezeOld = true }, TrainSource, null, null, new TrainerContext()));
        Assert.Equal(nameof(TrainingOptions.OldLearningRateScale), e.Setting);
        e = Assert.Throws<InvalidSettingException>(() => (Options(2) with { OldLearningRateScale = -1 }).Validate());
        Assert.Equal(nameof(TrainingOptions.OldLearningRateScale), e.Setting);
    }

    [Fact]
    public void Resume_IsBitwiseExact_InAGrownRunWithCarriedOptimizerState()
    {
        var (small, checkpoint) = TrainedSource();
        AdamW source = CarriedOptimizer.Load(small, checkpoint);
        SourceSchedule schedule = CarriedOptimizer.ReadSchedule(checkpoint)!;
        TrainingOptions options = Options(6) with { Schedule = ScheduleKind.Rewarm, SourceSchedule = schedule, Warmup = 2, OldLearningRateScale = 0.5 };

        TokenFormerModel straight = Grow(small);
        List<StepMetrics> reference;
        string full = Fixtures.TempDir("carry-full");
        using (Trainer t = Trainer.StartFrom(straight, options, TrainSource, ValSource, full, new TrainerContext(), "test", ModelGrower.GrowOptimizer(small, source, straight)))
        {
            Assert.True(t.CarriedOptimizer);
            Assert.True(t.Run().Finished);
            reference = [.. t.StepRecords];
        }

        string split = Fixtures.TempDir("carry-split");
        TokenFormerModel first = Grow(small);
        using (Trainer t = Trainer.StartFrom(first, options with { StopAt = 3 }, TrainSource, ValSource, split, new TrainerContext(), "test", ModelGrower.GrowOptimizer(small, source, first)))
            Assert.False(t.Run().Finished);
        float[] resumed;
        using (Trainer t = Trainer.Resume(split, Options(6), null, TrainSource, ValSource, new TrainerContext()))
        {
            Assert.Equal(3, t.Step);
            Assert.Equal(ScheduleKind.Rewarm, t.Options.Schedule);
            Assert.Equal(0.5, t.Options.OldLearningRateScale);
            Assert.True(t.CarriedOptimizer);
            Assert.True(t.Run().Finished);
            for (int i = 0; i < 6; i++)
            {
                Assert.Equal(BitConverter.DoubleToInt64Bits(reference[i].Loss), BitConverter.DoubleToInt64Bits(t.StepRecords[i].Loss));
                Assert.Equal(reference[i].LearningRate, t.StepRecords[i].LearningRate);
            }
            resumed = t.Model.Parameters.ToArray();
        }
        Assert.True(straight.Parameters.AsSpan().SequenceEqual(resumed), "the resumed run's parameters differ from the straight run's");
        // the carried step went on counting: source 4 + 6
        Assert.Equal(10, CarriedOptimizer.Load(straight, new CheckpointStore(split).PathOf(6)).Step);
        // the rewarm curve peaked at the source's final rate
        Assert.Equal(schedule.FinalLearningRate, reference[2].LearningRate, 12);

        // and the carried moments matter: fresh moments end elsewhere
        TokenFormerModel fresh = Grow(small);
        using (Trainer t = Trainer.StartFrom(fresh, options with { EvalEvery = 0 }, TrainSource, null, null, new TrainerContext())) t.Run();
        Assert.False(fresh.Parameters.AsSpan().SequenceEqual(resumed), "fresh and carried optimiser state ended at the same parameters");
    }
}
