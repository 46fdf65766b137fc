using System.Diagnostics;
using System.Globalization;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Inference;
using TokenFormer.Model.Optimizer;
using TokenFormer.Model.Training;
using TokenFormer.Text;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Quickstart;

/// <summary>
/// The quickstart, start to end: corpus (<see cref="QuickstartCorpus"/>) → byte-level BPE → train/val token streams →
/// small model S trained and evaluated → grown to L with function-preserving growth (the validation loss right after
/// growth equals the loss before) → L trained on with the growth recipe (S's AdamW state carried, S's schedule
/// continued; <see cref="QuickstartOptions.LargeSchedule"/>) → seeded samples → run folder with curves,
/// metrics, model directories and summary.md. Step counts are planned from a short timing and the time budget, then
/// fixed and printed; given the same step counts (<see cref="QuickstartOptions.SmallSteps"/>,
/// <see cref="QuickstartOptions.LargeSteps"/>) and thread count, a run is deterministic.
/// </summary>
public sealed class QuickstartRun(QuickstartOptions options, TextWriter output, bool interactive)
{
    /// <summary>Marker file that identifies a quickstart run folder (such a folder is wiped by the next run).</summary>
    public const string MarkerFile = ".tokenformer-quickstart";
    /// <summary>Summary file names in the run folder.</summary>
    public const string SummaryFile = "summary.md", SummaryJsonFile = "summary.json", CurveFile = "growth.svg", SamplesFile = "samples.txt";
    /// <summary>Sub-folders of the run folder.</summary>
    public const string SmallDir = "small", GrownDir = "grown", LargeDir = "large", DataDir = "data", TokenizerFileName = "tokenizer.json";

    private const int StageCount = 7;
    private readonly Stopwatch _clock = new();
    private readonly CultureInfo _inv = CultureInfo.InvariantCulture;
    private double? _plannedEnd;
    private double _timedS, _timedL, _evalBatches;
    private TokenFormerConfig? _largeShape;

    /// <summary>Runs everything; returns the figures (also written to summary.md / summary.json).</summary>
    public QuickstartResult Run(CancellationToken cancel = default)
    {
        _clock.Start();
        QuickstartOptions o = options;
        if (!(o.Minutes > 0 && double.IsFinite(o.Minutes))) throw new CliException($"--minutes must be a positive number (got {o.Minutes})");
        if (o.SmallSteps is <= 0 || o.LargeSteps is <= 0) throw new CliException("--small-steps and --large-steps must be positive");
        if (o.Corpus != null && !File.Exists(o.Corpus) && !Directory.Exists(o.Corpus))
            throw new CliException($"--corpus: '{o.Corpus}' is neither a file nor a folder");
        string run = Path.GetFullPath(o.OutputDirectory);
        PrepareRunFolder(run);
        Line(string.Create(_inv, $"TokenFormer quickstart: corpus → tokenizer → small model S → grow to L → train on → samples; " +
            $"target {o.Minutes:0.#} min on {Parallelism.ThreadCount} threads; run folder {run}"));

        // 1. corpus
        Stage(1, "corpus");
        string[] searchFrom = (o.SourceSearchFolders ?? [AppContext.BaseDirectory, Directory.GetCurrentDirectory()]).ToArray();
        QuickstartCorpus corpus = QuickstartCorpus.Resolve(o.Corpus, o.CacheDirectory, run, o.NpmTimeout, o.NpmCommand, searchFrom, s => Detail(s));
        Detail(corpus.Description);
        cancel.ThrowIfCancellationRequested();

        // 2. tokenizer
        Stage(2, "tokenizer");
        var watch = Stopwatch.StartNew();
        var bpe = new BpeTrainer(new BpeTrainerOptions { VocabSize = o.VocabSize });
        foreach (string f in corpus.Files) bpe.AddFile(f);
        Tokenizer tokenizer = bpe.Train();
        string tokenizerPath = Path.Combine(run, TokenizerFileName);
        tokenizer.Save(tokenizerPath);
        Detail(string.Create(_inv, $"byte-level BPE: {tokenizer.VocabSize:N0} tokens ({tokenizer.Model.MergeList.Count:N0} merges) in {watch.Elapsed.TotalSeconds:F1} s → {tokenizerPath}"));
        cancel.ThrowIfCancellationRequested();

        // 3. token streams
        Stage(3, "data");
        watch.Restart();
        string dataDir = Path.Combine(run, DataDir);
        DatasetMeta meta;
        try
        {
            meta = DataPreparer.Run(tokenizer, new PrepareOptions { Inputs = corpus.Files, OutputDirectory = dataDir, ValFraction = o.ValFraction, Boundary = corpus.Boundary });
        }
        catch (DataFormatException e) { throw new CliException(e.Message); }
        Detail(string.Create(_inv, $"train {meta.TrainTokens:N0} tokens ({meta.TrainDocuments:N0} documents), val {meta.ValTokens:N0} tokens " +
            $"({meta.ValDocuments:N0} documents) in {watch.Elapsed.TotalSeconds:F1} s → {dataDir}"));
        if (meta.ValTokens < o.Sequence + 1 || meta.TrainTokens < o.Sequence + 1)
            throw new CliException($"the corpus is too small: {meta.TrainTokens:N0} train and {meta.ValTokens:N0} validation tokens, but a window needs {o.Sequence + 1}; give a larger --corpus");
        using TokenDataset train = TokenDataset.Open(dataDir, "train");
        using TokenDataset val = TokenDataset.Open(dataDir, "val");

        // 4. plan
        Stage(4, "plan");
        TokenFormerConfig small = o.SmallModel.Clone();
        small.VocabSize = tokenizer.VocabSize;
        small.Validate();
        TokenCounts largeTokens = TokenCounts.Of(small).Scale(o.GrowthFactor);
        TokenFormerConfig largeShape = small.Clone();
        largeShape.QkvSlotNum = largeTokens.Qkv;
        largeShape.ProjSlotNum = largeTokens.Proj;
        largeShape.FfnSlotNum = largeTokens.Ffn;
        long nS = TrainingFlops.NonEmbeddingParameters(small), nL = TrainingFlops.NonEmbeddingParameters(largeShape);
        long embedding = (long)small.Vocab * small.HiddenSize;
        Detail(string.Create(_inv, $"S: L{small.NumLayers} d{small.HiddenSize} {small.NumAttentionHeads} heads, tokens {TokenCounts.Of(small)}: " +
            $"{nS / 1e6:F2} M non-embedding + {embedding / 1e6:F2} M embedding parameters"));
        Detail(string.Create(_inv, $"L: S grown to tokens {largeTokens}: {nL / 1e6:F2} M non-embedding parameters ({(double)nL / nS:F1}× S), same embedding"));
        (long stepsS, long stepsL, string planNote) = Plan(small, largeShape);
        Detail(planNote);
        string fixedNote = o.LargeSteps == null ? "; L's steps are planned again after S if S runs slower or faster than timed" : "";
        Detail(string.Create(_inv, $"batch {o.Batch} × {o.Sequence} tokens per step; S: {stepsS:N0} steps, L: {stepsL:N0} steps{fixedNote}"));
        cancel.ThrowIfCancellationRequested();

        var context = new TrainerContext
        {
            ExtraFiles = [Path.Combine(dataDir, DatasetMeta.TokenizerFile)], TokenizerHash = meta.TokenizerHash, Output = output,
            Interactive = interactive, Stop = cancel,
        };
        var trainSource = new DatasetSourceAdapter(train);
        var valSource = new DatasetSourceAdapter(val);

        // 5. train S
        TrainingOptions smallOptions = PhaseOptions(stepsS, o.SmallLearningRate, o.Seed, warmupFraction: 0.05) with
        {
            Schedule = o.SmallSchedule, DecaySteps = o.SmallSchedule == ScheduleKind.Wsd ? (long)Math.Round(stepsS * o.SmallDecayFraction) : null,
        };
        string sCurve = smallOptions.DecaySteps switch
        {
            null => "warmup + cosine",
            0 => "warmup, then held: L carries on from it",
            long decay => string.Create(_inv, $"warmup, held, then cosine to a tenth over the last {decay:N0} steps"),
        };
        Stage(5, string.Create(_inv, $"training S ({stepsS:N0} steps, lr {o.SmallLearningRate:G3}, {sCurve})"));
        string smallRun = Path.Combine(run, SmallDir);
        TokenFormerModel sModel;
        List<StepMetrics> sSteps;
        List<EvalMetrics> sEvals;
        string sCheckpoint;
        double sSeconds;
        watch.Restart();
        using (Trainer trainer = Trainer.Start(small, smallOptions, trainSource, valSource, smallRun, context))
        {
            TrainingResult r = RunPhase(trainer);
            sModel = trainer.Model;
            sSteps = [.. trainer.StepRecords];
            sEvals = [.. trainer.EvalRecords];
            sCheckpoint = r.LastCheckpoint!;
        }
        sSeconds = watch.Elapsed.TotalSeconds;
        double lossBefore = sEvals[^1].ValLoss;
        cancel.ThrowIfCancellationRequested();
        if (o.LargeSteps == null && _timedL > 0)
        {
            (long replanned, string why) = Replan(stepsS, stepsL, sSeconds);
            if (replanned != stepsL) Detail(why);
            stepsL = replanned;
        }

        // 6. grow and train L
        Stage(6, "growing S → L (preserve: old tokens kept, new key tokens 0, new value tokens drawn, τ kept at the old √n)");
        TokenFormerModel grown;
        try { grown = ModelGrower.Grow(sModel, new GrowthOptions(largeTokens, GrowthMode.Preserve, o.Seed, sCheckpoint)); }
        catch (GrowthException e) { throw new CliException(e.Message); }
        string grownDir = Path.Combine(run, GrownDir);
        ModelDirectory.Save(grown, grownDir);
        File.Copy(tokenizerPath, Path.Combine(grownDir, TokenizerFileName), overwrite: true);
        Detail(string.Create(_inv, $"{sModel.Parameters.LongLength:N0} → {grown.Parameters.LongLength:N0} parameters → {grownDir}"));
        // S's AdamW state grown by the rule applied to the weights (old rows keep their moments and step, new rows start
        // at zero), stored beside the grown model as 'grow' does, so 'train --init-from grown --carry-optimizer' can redo L
        SourceSchedule sSchedule = SourceSchedule.Of(smallOptions, stepsS);
        AdamW grownAdam = ModelGrower.GrowOptimizer(sModel, CarriedOptimizer.Load(sModel, sCheckpoint), grown);
        CarriedOptimizer.Save(grown, grownAdam, sSchedule, grownDir);
        TrainingOptions largeOptions = LargeOptions(stepsL, sSchedule);
        Detail($"training L ({stepsL:N0} steps, {DescribeRecipe(largeOptions)}; step 0 is the grown model)");
        string largeRun = Path.Combine(run, LargeDir);
        TokenFormerModel lModel;
        List<StepMetrics> lSteps;
        List<EvalMetrics> lEvals;
        string lCheckpoint;
        watch.Restart();
        using (Trainer trainer = Trainer.StartFrom(grown, largeOptions, trainSource, valSource, largeRun, context, grownDir,
            o.LargeCarryOptimizer ? grownAdam : null))
        {
            TrainingResult r = RunPhase(trainer);
            lModel = trainer.Model;
            lSteps = [.. trainer.StepRecords];
            lEvals = [.. trainer.EvalRecords];
            lCheckpoint = r.LastCheckpoint!;
        }
        double lSeconds = watch.Elapsed.TotalSeconds;
        double lossAfterGrowth = lEvals[0].ValLoss, lossFinal = lEvals[^1].ValLoss;
        cancel.ThrowIfCancellationRequested();

        // 7. samples
        Stage(7, "samples from the final model (seeded)");
        List<QuickstartSample> samples = Sample(lModel, tokenizer, corpus.Prompts, cancel);

        int tokensPerStep = o.Batch * o.Sequence;
        var result = new QuickstartResult
        {
            RunDirectory = run, Corpus = corpus.Description, CorpusKind = corpus.Kind, Fallback = corpus.Fallback,
            VocabSize = tokenizer.VocabSize, TrainTokens = meta.TrainTokens, ValTokens = meta.ValTokens, Threads = Parallelism.ThreadCount,
            Batch = o.Batch, Sequence = o.Sequence, Seed = o.Seed, EvalWindows = o.EvalWindows,
            Small = new PhaseFigures("S", small, nS, sModel.Parameters.LongLength, stepsS, stepsS * tokensPerStep,
                stepsS * tokensPerStep * TrainingFlops.PerToken(small, o.Sequence), sSeconds, sEvals[0].ValLoss, lossBefore, sCheckpoint),
            Large = new PhaseFigures("L", lModel.Config, nL, lModel.Parameters.LongLength, stepsL, stepsL * tokensPerStep,
                stepsL * tokensPerStep * TrainingFlops.PerToken(lModel.Config, o.Sequence), lSeconds, lossAfterGrowth, lossFinal, lCheckpoint),
            LossBeforeGrowth = lossBefore, LossAfterGrowth = lossAfterGrowth, LossFinal = lossFinal, GrownDirectory = grownDir,
            Samples = samples, PlanNote = planNote,
        };
        GrowthCurveSvg.Save(Path.Combine(run, CurveFile),
        [
            new PhaseCurve("S", "#3182bd", sSteps, sEvals, tokensPerStep * TrainingFlops.PerToken(small, o.Sequence), 0),
            new PhaseCurve("L", "#e6550d", lSteps, lEvals, tokensPerStep * TrainingFlops.PerToken(lModel.Config, o.Sequence), result.Small.Flops),
        ], "TokenFormer quickstart: validation loss against training compute, S then grown L");
        result = result with { Seconds = _clock.Elapsed.TotalSeconds };
        QuickstartSummary.Write(result);
        Report(result);
        return result;
    }

    private TrainingOptions PhaseOptions(long steps, double lr, int seed, double warmupFraction) => new()
    {
        Steps = steps, Batch = options.Batch, Sequence = options.Sequence, LearningRate = lr, MinLearningRate = lr / 10,
        Warmup = Math.Max(1, (long)(steps * warmupFraction)), Seed = seed, EvalWindows = options.EvalWindows,
        EvalEvery = Math.Max(1, steps / Math.Max(1, options.EvalsPerPhase)), SaveEvery = 0, KeepLast = 1,
        LogEvery = Math.Max(1, steps / 10),
    };

    /// <summary>
    /// L's options: the quickstart's phase settings with its growth recipe (<see cref="QuickstartOptions.LargeSchedule"/>
    /// and the old tokens' learning-rate scale; the peak is S's final rate for rewarm and S's peak for continue, as
    /// 'train --init-from' sets them, so that the CLI reproduces the quickstart's L).
    /// </summary>
    private TrainingOptions LargeOptions(long steps, SourceSchedule source)
    {
        QuickstartOptions o = options;
        // the cosine recipe warms up longer: the trained old tokens should not be kicked hard by a new peak
        TrainingOptions phase = PhaseOptions(steps, o.LargeLearningRate, o.Seed + 1, warmupFraction: 0.1);
        double peak = o.LargeSchedule switch
        {
            ScheduleKind.Continue => source.Peak,
            ScheduleKind.Rewarm => source.FinalLearningRate,
            _ => o.LargeLearningRate,
        };
        return phase with
        {
            // a continued curve decays from S's current rate (its peak after the stable schedule), as 'train' sets its floor
            LearningRate = peak, MinLearningRate = (o.LargeSchedule == ScheduleKind.Continue ? source.FinalLearningRate : peak) / 10, Warmup = o.LargeSchedule == ScheduleKind.Rewarm ? o.LargeRewarmSteps : phase.Warmup,
            Schedule = o.LargeSchedule, SourceSchedule = o.LargeSchedule == ScheduleKind.Cosine ? null : source,
            OldLearningRateScale = o.LargeOldLearningRateScale,
        };
    }

    /// <summary>The growth recipe in words, for the "training L" line.</summary>
    private string DescribeRecipe(TrainingOptions large)
    {
        string moments = options.LargeCarryOptimizer ? "S's AdamW state carried (new rows at zero moments)" : "fresh AdamW state";
        string schedule = large.Schedule switch
        {
            ScheduleKind.Continue when LearningRateSchedule.DecayStepsOf(large) is var decay && decay > 0 => string.Create(_inv,
                $"S's schedule continued (lr {large.SourceSchedule!.FinalLearningRate:0.######} held, decaying to {large.MinLearningRate:0.######} over the last {decay:N0} steps)"),
            ScheduleKind.Continue => string.Create(_inv, $"S's schedule continued (lr {large.SourceSchedule!.FinalLearningRate:G3} from S's last step on)"),
            ScheduleKind.Rewarm => string.Create(_inv, $"lr from S's final {large.LearningRate:G3} (warmup {large.Warmup}), cosine to {large.MinLearningRate:G3}"),
            _ => string.Create(_inv, $"new schedule: lr {large.LearningRate:G3}, warmup + cosine"),
        };
        string old = large.OldLearningRateScale == 1 ? "" : string.Create(_inv, $", old tokens at {large.OldLearningRateScale:G3} × lr");
        return $"{moments}, {schedule}{old}";
    }

    private TrainingResult RunPhase(Trainer trainer)
    {
        try { return trainer.Run(); }
        catch (TrainingDivergedException e) { throw new CliException(e.Message); }
    }

    /// <summary>
    /// Step counts: the given ones, or the training time left in the budget (the target minus what has run, a 10 %
    /// margin, and the evaluations, growth and sampling) split between S and L in proportion to
    /// <see cref="QuickstartOptions.SmallShare"/>, divided by a measured time per step.
    /// </summary>
    private (long Small, long Large, string Note) Plan(TokenFormerConfig small, TokenFormerConfig large)
    {
        QuickstartOptions o = options;
        if (o.SmallSteps is long fs && o.LargeSteps is long fl) return (fs, fl, "step counts given on the command line (no timing)");
        double tS = StepTimer.SecondsPerStep(small, o.Batch, o.Sequence).Fastest, tL = StepTimer.SecondsPerStep(large, o.Batch, o.Sequence).Fastest;
        // an evaluation is forward-only: about a third of a training step per batch of windows
        double evalBatches = Math.Ceiling((double)o.EvalWindows / o.Batch) * (o.EvalsPerPhase + 2);
        (_timedS, _timedL, _evalBatches, _largeShape) = (tS, tL, evalBatches, large);
        // plus about ten seconds for growth, checkpoints, samples and the summary
        double reserve = evalBatches * (tS + tL) / 3 + 10;
        double budget = o.Minutes * 60 * 0.9 - _clock.Elapsed.TotalSeconds - reserve;
        double trainSeconds = Math.Max(0, budget);
        long stepsS = o.SmallSteps ?? Math.Max(10, (long)(trainSeconds * o.SmallShare / tS));
        long stepsL = o.LargeSteps ?? Math.Max(10, (long)(trainSeconds * (1 - o.SmallShare) / tL));
        _plannedEnd = _clock.Elapsed.TotalSeconds + stepsS * tS + stepsL * tL + reserve;
        string note = string.Create(_inv, $"measured {tS:F3} s/step (S) and {tL:F3} s/step (L); {trainSeconds / 60:F1} min of the {o.Minutes:0.#} min target left for training " +
            $"→ about {FormatTime(stepsS * tS)} for S and {FormatTime(stepsL * tL)} for L");
        return (stepsS, stepsL, note);
    }

    /// <summary>
    /// After S: L's step count is planned again from what is left of the budget and a fresh timing of L (its fastest
    /// of five steps, times how much slower than its own timing S actually ran when that is above 1, plus 5 %), so
    /// that the run ends on time however the load on a shared machine changed during S.
    /// </summary>
    private (long Steps, string Note) Replan(long stepsS, long stepsL, double sSeconds)
    {
        double plannedS = stepsS * _timedS + _evalBatches * _timedS / 3;
        double slowdown = Math.Clamp(sSeconds / plannedS, 1, 4);
        double tL = StepTimer.SecondsPerStep(_largeShape!, options.Batch, options.Sequence).Fastest * slowdown * 1.05;
        double reserve = _evalBatches * tL / 3 + 10;
        double left = options.Minutes * 60 * 0.9 - _clock.Elapsed.TotalSeconds - reserve;
        long steps = Math.Max(10, (long)(left / tL));
        _plannedEnd = _clock.Elapsed.TotalSeconds + steps * tL + reserve;
        if (Math.Abs(steps - stepsL) <= Math.Max(1, stepsL / 20)) return (stepsL, "");   // within 5 %: keep the plan
        return (steps, string.Create(_inv, $"re-planned L: S took {FormatTime(sSeconds)} (planned {FormatTime(plannedS)}) and L now plans at {tL:F3} s/step " +
            $"(planned {_timedL:F3}), so L gets {steps:N0} steps instead of {stepsL:N0} to end on time"));
    }

    private List<QuickstartSample> Sample(TokenFormerModel model, Tokenizer tokenizer, IReadOnlyList<string> prompts, CancellationToken cancel)
    {
        var samples = new List<QuickstartSample>();
        int count = Math.Min(options.Samples, prompts.Count);
        if (count == 0) return samples;
        var generator = new Generator(model, maxBatch: 1);
        int[] stop = tokenizer.EndOfTextId is int eot ? [eot] : [];
        for (int i = 0; i < count; i++)
        {
            int[] prompt = tokenizer.Encode(prompts[i]);
            if (prompt.Length == 0 || prompt.Length + options.SampleTokens > generator.MaxLength) continue;
            var sampling = new SamplingOptions
            {
                MaxNewTokens = options.SampleTokens, Temperature = 0.8f, TopK = 40, Seed = options.Seed + i, StopIds = stop,
            };
            int[] ids = generator.Generate([prompt], sampling, cancel: cancel)[0];
            string text = tokenizer.Decode(ids, skipSpecialTokens: true);
            samples.Add(new QuickstartSample(prompts[i], text, ids.Length));
            Detail($"[{i + 1}] {prompts[i]}{text.ReplaceLineEndings(" ")}");
        }
        return samples;
    }

    private void Report(QuickstartResult r)
    {
        double delta = r.LossAfterGrowth - r.LossBeforeGrowth;
        Line("");
        Line("Result");
        Line(string.Create(_inv, $"  validation loss before growth (S, step {r.Small.Steps:N0}):   {r.LossBeforeGrowth:F4}"));
        string verdict = r.Preserved ? "function preserved" : "NOT preserved";
        Line(string.Create(_inv, $"  right after growth (L, step 0):              {r.LossAfterGrowth:F4}   (Δ {delta:+0.0e+0;-0.0e+0;0}: {verdict})"));
        Line(string.Create(_inv, $"  after continued training (L, step {r.Large.Steps:N0}):  {r.LossFinal:F4}   (perplexity {Math.Exp(r.LossBeforeGrowth):F1} → {Math.Exp(r.LossFinal):F1})"));
        Line(string.Create(_inv, $"  training compute: S {QuickstartSummary.FormatFlops(r.Small.Flops)} + L {QuickstartSummary.FormatFlops(r.Large.Flops)} = {QuickstartSummary.FormatFlops(r.Small.Flops + r.Large.Flops)} " +
            $"({r.Small.Tokens + r.Large.Tokens:N0} tokens)"));
        Line(string.Create(_inv, $"  wall time {FormatTime(r.Seconds)}; curves {Path.Combine(r.RunDirectory, CurveFile)}; summary {Path.Combine(r.RunDirectory, SummaryFile)}"));
        Line(string.Create(_inv, $"  the same run again: tokenformer quickstart --small-steps {r.Small.Steps} --large-steps {r.Large.Steps} --seed {r.Seed}"));
        Line($"  next: tokenformer generate --model {r.Large.Checkpoint} --prompt \"{(r.Samples.Count > 0 ? r.Samples[0].Prompt : "The")}\"");
    }

    private void PrepareRunFolder(string run)
    {
        if (Directory.Exists(run) && Directory.EnumerateFileSystemEntries(run).Any())
        {
            if (!File.Exists(Path.Combine(run, MarkerFile)))
                throw new CliException($"--out {run} exists and is not a quickstart run folder (no {MarkerFile}); choose another --out or remove it");
            Directory.Delete(run, recursive: true);
        }
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, MarkerFile), "a tokenformer quickstart run folder; the next quickstart with this --out replaces it\n");
    }

    private void Stage(int n, string what)
    {
        double elapsed = _clock.Elapsed.TotalSeconds;
        string left = _plannedEnd is double end ? $", about {FormatTime(Math.Max(0, end - elapsed))} left" : "";
        Line(string.Create(_inv, $"[{n}/{StageCount}] {what}  ({FormatTime(elapsed)} elapsed{left})"));
    }

    private void Detail(string text) => Line("      " + text);

    private void Line(string text)
    {
        output.WriteLine(text);
        output.Flush();
    }

    /// <summary>m:ss.</summary>
    public static string FormatTime(double seconds) => ProgressDisplay.FormatEta(TimeSpan.FromSeconds(Math.Round(seconds)));

    /// <summary>A memory-mapped split as the trainer's token source.</summary>
    private sealed class DatasetSourceAdapter(TokenDataset dataset) : ITokenSource
    {
        public long Count => dataset.Count;
        public void CopyTo(long start, Span<int> destination) => dataset.CopyTo(start, destination);
    }
}
