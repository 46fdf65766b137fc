using System.Diagnostics;
using System.Globalization;
using TokenFormer.Core.Threading;
using TokenFormer.Model.Distributed;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Optimizer;

namespace TokenFormer.Model.Training;

/// <summary>
/// The training loop (docs/architecture.md, Training): each optimiser step draws GradAccum micro-batches of B random windows of T + 1 ids
/// (<see cref="WindowSampler"/>), averages their gradients, clips the global L2 norm, and applies AdamW
/// (β 0.9/0.95, ε 1e-8, decoupled weight decay on all but the final LayerNorm) at the
/// <see cref="LearningRateSchedule"/>'s rate. Evaluates validation loss on a fixed window set, appends metrics,
/// redraws RUN/loss.svg and writes atomic checkpoints. Everything the numbers depend on is in the checkpoint, so a
/// resumed run reproduces an uninterrupted one bit for bit at the same thread count. A NaN or infinite loss or
/// gradient stops the run with <see cref="TrainingDivergedException"/> before anything is saved for that step.
/// A run can start from an existing model (<see cref="StartFrom"/>: a grown model, fresh or carried optimiser state and
/// the schedule of <see cref="TrainingOptions.Schedule"/>) and, with <see cref="TrainingOptions.FreezeOld"/>, train only
/// the rows its newest growth step added (<see cref="FrozenParameters"/>), or with
/// <see cref="TrainingOptions.OldLearningRateScale"/> train the old parameters at a multiple of the learning rate.
/// Without a run directory (null) nothing is written: no metrics file, curve or checkpoint; the figures reach the
/// caller through <see cref="TrainerContext.OnStep"/>, <see cref="StepRecords"/> and the returned result.
/// With <see cref="TrainerContext.Communicator"/> of several ranks it trains data-parallel (<see cref="DataParallel"/>,
/// docs/distributed.md): every micro-batch's global Batch × ranks windows are drawn in the same order whatever the rank
/// count and rank r takes the r-th share; gradients, losses and the norm are reduced over the ranks; only rank 0 evaluates,
/// writes and reports.
/// </summary>
public sealed class Trainer : IDisposable
{
    /// <summary>Metrics file name in the run directory.</summary>
    public const string MetricsFile = "metrics.jsonl";
    /// <summary>Curve file name in the run directory.</summary>
    public const string CurveFile = "loss.svg";

    private readonly TokenFormerModel _model;
    private readonly AdamW _adam;
    private readonly DataParallel? _dp;
    private readonly ModelRunner _runner;
    private readonly Evaluator _evaluator;
    private readonly WindowSampler _sampler;
    private readonly ITokenSource _train;
    private readonly ITokenSource? _val;
    private readonly long[] _evalStarts;
    private readonly TrainerContext _context;
    private readonly CheckpointStore? _store;
    private readonly MetricsLog _metrics;
    private readonly ProgressDisplay _progress;
    private readonly string? _runDirectory;
    private readonly int[] _window, _tokens, _targets;
    private readonly double _elapsedBefore;
    private readonly FrozenParameters? _frozen;

    /// <summary>With <see cref="TrainingOptions.FreezeOld"/>, leave the frozen parameters' gradients out of the backward (tests turn it off to compare).</summary>
    internal static bool SkipFrozenGradients = true;
    private readonly string? _initFrom;
    private readonly bool _carried;
    private readonly LearningRateSchedule _schedule;
    private long _tokensSeen;
    private double? _lastVal;
    private string? _lastCheckpoint;

    /// <summary>The numeric and scheduling options in force.</summary>
    public TrainingOptions Options { get; }
    /// <summary>The model being trained.</summary>
    public TokenFormerModel Model => _model;
    /// <summary>Optimiser steps completed.</summary>
    public long Step { get; private set; }
    /// <summary>Step records (including those read back on resume).</summary>
    public IReadOnlyList<StepMetrics> StepRecords => _metrics.Steps;
    /// <summary>Evaluation records.</summary>
    public IReadOnlyList<EvalMetrics> EvalRecords => _metrics.Evals;
    /// <summary>The schedule.</summary>
    public LearningRateSchedule Schedule => _schedule;
    /// <summary>Whether the run started from carried optimiser state (<see cref="StartFrom"/> with an optimizer).</summary>
    public bool CarriedOptimizer => _carried;
    /// <summary>The AdamW state this process steps with (with the sharded optimiser: this rank's slice).</summary>
    public AdamW OptimizerState => _adam;

    private Trainer(TokenFormerModel model, AdamW adam, TrainingOptions options, ITokenSource train, ITokenSource? val,
        string? runDirectory, TrainerContext context, TrainerState? resumed, string? initFrom = null, bool carried = false)
    {
        options.Validate();
        _schedule = LearningRateSchedule.For(options);
        ICommunicator? comm = context.Communicator;
        if ((comm != null && comm.Size > 1) || context.ShardOptimizer)
        {
            _dp = new DataParallel(comm ?? SingleProcessCommunicator.Instance, model, context.ShardOptimizer, context.BucketFloats);
            _dp.BroadcastWeights(model.Parameters);
            adam = _dp.LocalOptimizer(model, adam);
        }
        if (options.OldLearningRateScale != 1)
        {
            try { adam.ScaleLearningRate(OldParameters.Ranges(model), (float)options.OldLearningRateScale); }
            catch (GrowthException e) { throw new InvalidSettingException(nameof(TrainingOptions.OldLearningRateScale), "needs a grown model: " + e.Message, options.OldLearningRateScale); }
        }
        _carried = resumed?.CarryOptimizer ?? carried;
        if (options.FreezeOld)
        {
            try { _frozen = FrozenParameters.OldOf(model); }
            catch (GrowthException e) { throw new InvalidSettingException(nameof(TrainingOptions.FreezeOld), "needs a grown model: " + e.Message, null); }
        }
        else if (context.Frozen is { } frozen) _frozen = new FrozenParameters(model.Parameters, frozen);
        _initFrom = resumed?.InitFrom ?? initFrom;
        Options = options;
        _model = model;
        _adam = adam;
        _train = train;
        _val = val;
        _context = context;
        _runDirectory = runDirectory;
        int t = options.Sequence;
        if (t > model.Config.MaxPositionEmbeddings)
            throw new InvalidSettingException(nameof(TrainingOptions.Sequence), $"exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}", t);
        if (train.Count < t + 1) throw new SplitTooShortException(SplitTooShortException.TrainSplit, train.Count, t + 1);
        if (options.EvalEvery > 0)
        {
            long valCount = val?.Count ?? 0;
            if (valCount < t + 1) throw new SplitTooShortException(SplitTooShortException.ValidationSplit, valCount, t + 1);
            _evalStarts = Evaluator.EvenlySpaced(valCount, t, options.EvalWindows);
        }
        else _evalStarts = [];
        _runner = new ModelRunner(model, options.Batch, t, training: true);
        // the old tokens and the embedding are held fixed: their gradient products need not run (FrozenParameters
        // still zeroes their entries and restores their values, as for any frozen range)
        if (options.FreezeOld && SkipFrozenGradients) _runner.SkipFrozenGradients(GrowthLineage.Last(model.Config)!.OldTokens);
        _evaluator = new Evaluator(_runner);
        _sampler = new WindowSampler(SamplerSeed(options.Seed));
        _window = new int[t + 1];
        _tokens = new int[options.Batch * t];
        _targets = new int[options.Batch * t];
        if (runDirectory != null)
            _store = new CheckpointStore(runDirectory);
        if (runDirectory != null && IsWriter)
        {
            Directory.CreateDirectory(runDirectory);
            _metrics = new MetricsLog(Path.Combine(runDirectory, MetricsFile), resumed?.MetricsBytes ?? 0);
        }
        else _metrics = MetricsLog.InMemory();
        _progress = new ProgressDisplay(context.Output ?? TextWriter.Null, context.Interactive, options.LogEvery);
        if (resumed != null)
        {
            Step = resumed.Step;
            _sampler.Drawn = resumed.WindowsDrawn;
            _tokensSeen = resumed.TokensSeen;
            _lastVal = resumed.LastValLoss;
            _elapsedBefore = resumed.ElapsedSeconds;
        }
    }

    /// <summary>Whether this process writes files and reports (always, unless it is a rank other than 0 of a data-parallel job).</summary>
    public bool IsWriter => _dp == null || _dp.IsWriter;

    /// <summary>The data-parallel machinery (null when training in one process).</summary>
    public DataParallel? DataParallel => _dp;

    private static ulong SamplerSeed(int seed) => WindowSampler.Mix((ulong)(uint)seed ^ 0x5DEECE66DUL);

    /// <summary>
    /// A fresh run in <paramref name="runDirectory"/> (null: no files): the model from <paramref name="config"/>
    /// (vocab_size set) with the official initialisation at <see cref="TrainingOptions.Seed"/>. Refuses a directory
    /// that already holds checkpoints with <see cref="ExistingRunException"/> (use <see cref="Resume"/>).
    /// </summary>
    public static Trainer Start(TokenFormerConfig config, TrainingOptions options, ITokenSource train, ITokenSource? val,
        string? runDirectory, TrainerContext context)
    {
        PrepareRunDirectory(runDirectory, context);
        options.Validate();
        var model = new TokenFormerModel(config);
        model.InitializeRandom(options.Seed);
        var adam = new AdamW(model.Layout) { WeightDecay = (float)options.WeightDecay };
        return new Trainer(model, adam, options, train, val, runDirectory, context, null);
    }

    /// <summary>
    /// A fresh run in <paramref name="runDirectory"/> that starts from <paramref name="model"/> (e.g. a grown model loaded
    /// from <paramref name="initFrom"/>) instead of a random initialisation, at step 0 of <see cref="TrainingOptions.Schedule"/>
    /// (by default a new warmup + cosine over <see cref="TrainingOptions.Steps"/>). <paramref name="optimizer"/> null: fresh
    /// AdamW moments, as the authors advise for each growth stage (see docs/growth.md); otherwise its moments and step
    /// are carried on (e.g. <see cref="Growth.ModelGrower.GrowOptimizer"/> of the source run's state, or
    /// <see cref="CarriedOptimizer.Load"/>), so bias correction continues from its step. The model's parameters are
    /// trained in place. <paramref name="runDirectory"/> null: no files. Refuses a directory that already holds
    /// checkpoints with <see cref="ExistingRunException"/>.
    /// </summary>
    public static Trainer StartFrom(TokenFormerModel model, TrainingOptions options, ITokenSource train, ITokenSource? val,
        string? runDirectory, TrainerContext context, string? initFrom = null, AdamW? optimizer = null)
    {
        PrepareRunDirectory(runDirectory, context);
        options.Validate();
        var adam = new AdamW(model.Layout) { WeightDecay = (float)options.WeightDecay };
        if (optimizer != null)
        {
            if (optimizer.FirstMoment.Length != adam.FirstMoment.Length)
                throw new ArgumentException($"the carried optimizer state holds {optimizer.FirstMoment.Length} moments but the model has {adam.FirstMoment.Length} parameters", nameof(optimizer));
            optimizer.FirstMoment.CopyTo(adam.FirstMoment, 0);
            optimizer.SecondMoment.CopyTo(adam.SecondMoment, 0);
            adam.Step = optimizer.Step;
        }
        return new Trainer(model, adam, options, train, val, runDirectory, context, null, initFrom, optimizer != null);
    }

    /// <summary>A new run may not overwrite a run's checkpoints; leftovers of an interrupted save are removed.</summary>
    private static void PrepareRunDirectory(string? runDirectory, TrainerContext context)
    {
        if (runDirectory == null) return;
        var store = new CheckpointStore(runDirectory);
        if (store.Latest() is { } existing) throw new ExistingRunException(runDirectory, existing.Path);
        if ((context.Communicator?.Rank ?? 0) == 0) store.RemoveTemporary();
    }

    /// <summary>Parameters held fixed by <see cref="TrainingOptions.FreezeOld"/> (null when every parameter trains).</summary>
    public FrozenParameters? Frozen => _frozen;

    /// <summary>
    /// Continues the run in <paramref name="runDirectory"/> from its newest complete checkpoint. The numeric options
    /// come from the checkpoint; <paramref name="scheduling"/> supplies eval/save/keep/stop/log settings, and
    /// <paramref name="steps"/> (when given) extends or shortens the run (which changes the cosine schedule).
    /// </summary>
    public static Trainer Resume(string runDirectory, TrainingOptions scheduling, long? steps, ITokenSource train, ITokenSource? val, TrainerContext context)
    {
        var store = new CheckpointStore(runDirectory);
        var latest = store.Latest()
            ?? throw new ArgumentException($"{runDirectory}: no complete checkpoint to resume from (looked in {store.Directory})");
        int ranks = context.Communicator?.Size ?? 1;
        if ((context.Communicator?.Rank ?? 0) == 0) store.RemoveTemporary();
        TrainerState state = TrainerState.Load(Path.Combine(latest.Path, TrainerState.FileName));
        // elastic resume: the global batch (batch × ranks) stays, whatever the number of ranks now
        int batch = state.BatchFor(ranks) ?? throw new InvalidSettingException(nameof(TrainingOptions.Batch),
            $"cannot be kept: the checkpoint {latest.Path} has a global batch of {state.Batch} × {state.Ranks} ranks = {(long)state.Batch * state.Ranks} windows, which {ranks} ranks cannot share evenly; resume on a number of ranks that divides it", ranks);
        TrainingOptions options = state.ToOptions(scheduling) with { Batch = batch };
        if (steps is long s) options = options with { Steps = s };
        if (options.Steps <= state.Step)
            throw new InvalidSettingException(nameof(TrainingOptions.Steps), $"must be greater than the step {state.Step} of the checkpoint {latest.Path}", options.Steps);
        TokenFormerModel model = ModelDirectory.Load(latest.Path);
        var adam = new AdamW(model.Layout) { WeightDecay = (float)options.WeightDecay };
        CheckpointStore.LoadOptimizer(model, adam, Path.Combine(latest.Path, CheckpointStore.OptimizerFile));
        var trainer = new Trainer(model, adam, options, train, val, runDirectory, context, state);
        trainer._lastCheckpoint = latest.Path;
        string note = state.Ranks != ranks
            ? $" (written by {state.Ranks} rank{(state.Ranks == 1 ? "" : "s")}, continued on {ranks} with {batch} windows each: the same global batch and data order; losses match an uninterrupted run up to rounding)"
            : state.Threads != Parallelism.ThreadCount
            ? $" (warning: the checkpoint was made with {state.Threads} threads and this run uses {Parallelism.ThreadCount}; losses will not match an uninterrupted run bit for bit)"
            : "";
        trainer._progress.Line($"resuming from {latest.Path} at step {state.Step}{note}");
        return trainer;
    }

    /// <summary>
    /// Trains until <see cref="TrainingOptions.Steps"/> (or <see cref="TrainingOptions.StopAt"/>, or until
    /// <see cref="TrainerContext.Stop"/> is cancelled: then after a checkpoint of the current step).
    /// </summary>
    public TrainingResult Run()
    {
        TrainingOptions o = Options;
        long end = o.StopAt > 0 ? Math.Min(o.StopAt, o.Steps) : o.Steps;
        var clock = Stopwatch.StartNew();
        long startStep = Step;
        double lastLoss = double.NaN;
        string title = string.Create(CultureInfo.InvariantCulture,
            $"TokenFormer {_model.Parameters.LongLength / 1e6:F2}M parameters, batch {o.Batch}×{o.Sequence}×{o.GradAccum}, lr {o.LearningRate:G3}");
        if (Step == 0 && o.EvalEvery > 0 && IsWriter) Evaluate(title);
        while (Step < end)
        {
            long stepStart = Stopwatch.GetTimestamp();
            long step = Step + 1;
            double loss = TrainStep(step, out double norm, out double lr);
            lastLoss = loss;
            Step = step;
            double seconds = Stopwatch.GetElapsedTime(stepStart).TotalSeconds;
            double tps = (double)o.Batch * Ranks * o.Sequence * o.GradAccum / seconds;
            var m = new StepMetrics(step, loss, lr, tps, norm, _elapsedBefore + clock.Elapsed.TotalSeconds);
            _metrics.Add(m);
            _context.OnStep?.Invoke(m);
            double perStep = clock.Elapsed.TotalSeconds / (step - startStep);
            _progress.Step(m, o.Steps, TimeSpan.FromSeconds(perStep * (o.Steps - step)));
            if (o.EvalEvery > 0 && (step % o.EvalEvery == 0 || step == o.Steps) && IsWriter) Evaluate(title);
            bool stop = _dp != null ? _stopAgreed : _context.Stop.IsCancellationRequested;
            if (_store != null && ((o.SaveEvery > 0 && step % o.SaveEvery == 0) || step == end || stop)) Save(loss, clock.Elapsed.TotalSeconds);
            if (stop)
            {
                _progress.Line(_store != null ? $"interrupted after step {step}; the run can be resumed from its checkpoint" : $"interrupted after step {step}");
                break;
            }
        }
        _progress.Finish();
        if (_dp is { Times.Steps: > 0 } dp)
        {
            StepTimes tm = dp.Times;
            double total = tm.Compute + tm.ExposedCommunication + tm.Optimizer;
            _progress.Line(string.Create(CultureInfo.InvariantCulture,
                $"data parallel: {dp.Size} ranks{(dp.Sharded ? ", sharded optimizer" : dp.BucketCount > 0 ? $", {dp.BucketCount} gradient buckets overlapped with the backward" : ", one allreduce after the backward")}; " +
                $"per step {1000 * total / tm.Steps:F1} ms: compute {1000 * tm.Compute / tm.Steps:F1} ms, exposed communication {1000 * tm.ExposedCommunication / tm.Steps:F1} ms " +
                $"({100 * tm.ExposedCommunication / total:F1} %), optimizer {1000 * tm.Optimizer / tm.Steps:F1} ms"));
        }
        return new TrainingResult(Step, lastLoss, _lastVal, _lastCheckpoint, Step >= o.Steps);
    }

    private double TrainStep(long step, out double norm, out double lr)
    {
        TrainingOptions o = Options;
        int b = o.Batch, t = o.Sequence;
        float[] grad = _runner.Gradients!;
        double lossSum = 0;
        int ranks = Ranks, rank = _dp?.Rank ?? 0;
        long computeStart = Stopwatch.GetTimestamp();
        for (int micro = 0; micro < o.GradAccum; micro++)
        {
            // the global micro-batch is ranks × b windows in the sampler's order; this rank takes windows [rank·b, rank·b + b)
            for (int j = 0; j < ranks * b; j++)
            {
                long start = _sampler.Next(_train.Count, t + 1);
                int r = j - rank * b;
                if ((uint)r >= (uint)b) continue;
                _train.CopyTo(start, _window);
                _window.AsSpan(0, t).CopyTo(_tokens.AsSpan(r * t, t));
                _window.AsSpan(1, t).CopyTo(_targets.AsSpan(r * t, t));
            }
            float loss = _runner.Forward(_tokens, _targets, default, computeGradient: true);
            if (!float.IsFinite(loss))
                throw new TrainingDivergedException(step, $"step {step}: the training loss is {loss} (micro-batch {micro + 1} of {o.GradAccum}); " +
                    $"stopping without saving this step{LastGood()}. A lower peak learning rate or a longer warmup may help.");
            if (_dp != null && micro == o.GradAccum - 1) _dp.Backward(_runner, accumulate: micro > 0);
            else _runner.Backward(accumulate: micro > 0);
            lossSum += loss;
            _tokensSeen += (long)ranks * b * t;
        }
        if (_dp != null)
        {
            _dp.Times.Compute += Stopwatch.GetElapsedTime(computeStart).TotalSeconds;
            _frozen?.ZeroGradients(grad);
            (lossSum, _stopAgreed, norm) = _dp.Reduce(grad, lossSum, _context.Stop.IsCancellationRequested, 1f / (o.GradAccum * ranks));
            if (!_dp.Sharded) norm = GradientMath.GlobalNorm(grad);
            if (!double.IsFinite(norm))
                throw new TrainingDivergedException(step, $"step {step}: the gradient norm is {norm} (a gradient is NaN or infinite); " +
                    $"stopping without saving this step{LastGood()}. A lower peak learning rate or a longer warmup may help.");
            if (o.Clip > 0 && norm > o.Clip) _dp.Clip(grad, (float)(o.Clip / (norm + 1e-6)));
            lr = Schedule.At(step - 1);
            _dp.Update(_adam, _model.Parameters, grad, (float)lr);
            _frozen?.Restore(_model.Parameters);
            return lossSum / ((double)o.GradAccum * ranks);
        }
        if (o.GradAccum > 1) GradientMath.Scale(grad, 1f / o.GradAccum);
        _frozen?.ZeroGradients(grad);
        norm = GradientMath.GlobalNorm(grad);
        if (!double.IsFinite(norm))
            throw new TrainingDivergedException(step, $"step {step}: the gradient norm is {norm} (a gradient is NaN or infinite); " +
                $"stopping without saving this step{LastGood()}. A lower peak learning rate or a longer warmup may help.");
        if (o.Clip > 0 && norm > o.Clip) GradientMath.Scale(grad, (float)(o.Clip / (norm + 1e-6)));
        lr = Schedule.At(step - 1);
        _adam.Update(_model.Parameters, grad, (float)lr);
        _frozen?.Restore(_model.Parameters);
        return lossSum / o.GradAccum;
    }

    /// <summary>Ranks training together (1 in one process).</summary>
    private int Ranks => _dp?.Size ?? 1;

    private bool _stopAgreed;

    private string LastGood() => _store == null ? "" : _lastCheckpoint != null ? $"; the last good checkpoint is {_lastCheckpoint}" : "; no checkpoint was written yet";

    /// <summary>Validation loss over the fixed windows at the current weights.</summary>
    public (double Loss, double Perplexity) EvaluateValidation()
    {
        if (_val == null || _evalStarts.Length == 0) throw new InvalidOperationException("evaluation is off (EvalEvery 0) or there is no validation split");
        (double loss, _) = _evaluator.Run(_val, _evalStarts);
        return (loss, Math.Exp(loss));
    }

    private void Evaluate(string title)
    {
        (double loss, double ppl) = EvaluateValidation();
        if (!double.IsFinite(loss))
            throw new TrainingDivergedException(Step, $"step {Step}: the validation loss is {loss}; stopping without saving this step{LastGood()}");
        _lastVal = loss;
        var record = new EvalMetrics(Step, loss, ppl);
        _metrics.Add(record);
        _context.OnEvaluation?.Invoke(record);
        _progress.Line(string.Create(CultureInfo.InvariantCulture, $"eval step {Step}: val_loss {loss:F4} | val_ppl {ppl:F2} ({_evalStarts.Length} windows)"));
        if (_runDirectory != null) LossCurveSvg.Save(Path.Combine(_runDirectory, CurveFile), _metrics.Steps, _metrics.Evals, title);
    }

    private void Save(double lastLoss, double elapsed)
    {
        TrainingOptions o = Options;
        AdamW? adam = _adam;
        if (_dp != null)
        {
            // collective: every rank checks the weights and hands over its optimiser slice; then only rank 0 writes
            _dp.CheckWeights(_model.Parameters, Step);
            adam = _dp.GatherOptimizer(_model, _adam);
            if (!_dp.IsWriter) { _lastCheckpoint = _store!.PathOf(Step); return; }
        }
        var state = new TrainerState
        {
            Step = Step, SamplerSeed = _sampler.Seed, WindowsDrawn = _sampler.Drawn, TokensSeen = _tokensSeen,
            Steps = o.Steps, Batch = o.Batch, Ranks = Ranks, Sequence = o.Sequence, GradAccum = o.GradAccum, LearningRate = o.LearningRate,
            MinLearningRate = o.MinLearningRate, Warmup = o.Warmup, WeightDecay = o.WeightDecay, Clip = o.Clip, Seed = o.Seed,
            EvalWindows = o.EvalWindows, Beta1 = _adam.Beta1, Beta2 = _adam.Beta2, Epsilon = _adam.Epsilon,
            NextLearningRate = Schedule.At(Step), Threads = Parallelism.ThreadCount, MetricsBytes = _metrics.Length,
            LastLoss = lastLoss, LastValLoss = _lastVal, ElapsedSeconds = _elapsedBefore + elapsed,
            TokenizerHash = _context.TokenizerHash, TrainTokens = _train.Count, FreezeOld = o.FreezeOld, InitFrom = _initFrom,
            Schedule = ScheduleKinds.Name(o.Schedule), SourceSchedule = o.SourceSchedule, OldLearningRateScale = o.OldLearningRateScale,
            DecaySteps = o.Schedule is ScheduleKind.Wsd or ScheduleKind.Continue ? LearningRateSchedule.DecayStepsOf(o) : null,
            CarryOptimizer = _carried,
        };
        _lastCheckpoint = _store!.Save(_model, adam!, state, _context.ExtraFiles);
        _store.Prune(o.KeepLast);
        _progress.Line($"saved checkpoint {_lastCheckpoint}");
    }

    /// <summary>Closes the metrics file.</summary>
    public void Dispose() => _metrics.Dispose();
}
