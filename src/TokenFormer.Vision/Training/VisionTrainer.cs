using System.Diagnostics;
using System.Globalization;
using System.Text;
using TokenFormer.Model.Optimizer;
using TokenFormer.Model.Training;
using TokenFormer.Vision.Data;

namespace TokenFormer.Vision.Training;

/// <summary>What a finished (or stopped) vision run reports.</summary>
public sealed record VisionTrainingResult(long Step, double LastLoss, VisionEvaluation? LastEvaluation, double ElapsedSeconds, string? Checkpoint);

/// <summary>
/// The training loop for images (docs/vision.md, Training). Step s (1-based) trains on batch (s − 1) mod E of epoch
/// ⌊(s − 1)/E⌋ (E = ⌊N/B⌋ batches per epoch, the epoch's order a permutation seeded by (seed, epoch)), augmented with a
/// generator seeded by (seed, s): a step's batch depends on nothing but the seed and s, so a resumed run repeats the
/// straight run exactly. Then: global-norm clipping over both arenas, AdamW (one per arena, the same hyper-parameters)
/// at the warmup + cosine rate of <see cref="LearningRateSchedule"/>; RUN/metrics.jsonl gets a line per step and per
/// evaluation (with the training FLOPs so far, <see cref="VisionFlops"/>), RUN/loss.svg and RUN/accuracy.svg are redrawn at each evaluation, checkpoints via <see cref="VisionCheckpoint"/>.
/// </summary>
public sealed class VisionTrainer
{
    /// <summary>Metrics file name.</summary>
    public const string MetricsFile = "metrics.jsonl";

    private readonly VisionModel _model;
    private readonly ImageDataset _train;
    private readonly ImageDataset? _test;
    private readonly VisionTrainingOptions _o;
    private readonly string? _run;
    private readonly TextWriter _log;
    private readonly string _dataName;

    /// <summary>Losses of every step so far (step, loss).</summary>
    public List<(long Step, double Loss)> StepLosses { get; } = [];
    /// <summary>Evaluations so far (step, loss, accuracy).</summary>
    public List<(long Step, double Loss, double Accuracy)> Evaluations { get; } = [];

    /// <summary>A trainer of <paramref name="model"/> (already initialised or loaded) on <paramref name="train"/>, evaluated on <paramref name="test"/>.</summary>
    public VisionTrainer(VisionModel model, ImageDataset train, ImageDataset? test, VisionTrainingOptions options, string? runDirectory, TextWriter log, string dataName)
    {
        options.Validate();
        train.CheckFits(model.Config, "being trained");
        test?.CheckFits(model.Config, "being trained");
        if (train.Count < options.Batch)
            throw new Model.InvalidSettingException(nameof(VisionTrainingOptions.Batch), $"must be at most the {train.Count} training images of {train.Source}", options.Batch);
        _model = model; _train = train; _test = test; _o = options; _run = runDirectory; _log = log; _dataName = dataName;
    }

    /// <summary>Batches per epoch.</summary>
    public int StepsPerEpoch => _train.Count / _o.Batch;

    /// <summary>The dataset rows of step <paramref name="step"/>'s batch (1-based step).</summary>
    public void BatchIndices(long step, int[] perm, ref long permEpoch, Span<int> indices)
    {
        long epoch = (step - 1) / StepsPerEpoch;
        int within = (int)((step - 1) % StepsPerEpoch);
        if (permEpoch != epoch)
        {
            for (int i = 0; i < perm.Length; i++) perm[i] = i;
            new Random(unchecked(_o.Seed * 7919 + (int)epoch * 104729 + 17)).Shuffle(perm);
            permEpoch = epoch;
        }
        perm.AsSpan(within * _o.Batch, _o.Batch).CopyTo(indices);
    }

    /// <summary>
    /// Trains from <paramref name="resumeFrom"/> (a checkpoint folder, its model already loaded into the trainer's model;
    /// null = from step 0) to the last step or <see cref="VisionTrainingOptions.StopAt"/>.
    /// </summary>
    public VisionTrainingResult Run(string? resumeFrom = null)
    {
        VisionConfig c = _model.Config;
        var adamCore = new AdamW(_model.Core.Layout) { WeightDecay = (float)_o.WeightDecay };
        var adamStem = new AdamW(_model.StemLayout) { WeightDecay = (float)_o.WeightDecay };
        long start = 0, metricsBytes = 0;
        double elapsedBefore = 0;
        if (resumeFrom != null)
        {
            VisionTrainerState state = VisionCheckpoint.ReadState(resumeFrom);
            VisionCheckpoint.LoadOptimizer(resumeFrom, _model, adamCore, adamStem);
            start = state.Step; metricsBytes = state.MetricsBytes; elapsedBefore = state.ElapsedSeconds;
        }
        var schedule = new LearningRateSchedule(_o.LearningRate, _o.MinLearningRate, _o.Warmup, _o.Steps);
        var net = new VisionNetwork(_model, _o.Batch);
        var builder = new BatchBuilder(c);
        var images = new float[_o.Batch * c.Channels * c.ImageSize * c.ImageSize];
        var labels = new int[_o.Batch];
        var indices = new int[_o.Batch];
        var perm = new int[_train.Count];
        long permEpoch = -1;
        var gCore = new float[_model.Core.Parameters.Length];
        var gStem = new float[_model.Stem.Length];
        VisionCheckpoint? store = _run != null ? new VisionCheckpoint(_run) : null;
        using FileStream? metrics = _run != null ? OpenMetrics(Path.Combine(_run, MetricsFile), metricsBytes) : null;
        var display = new ProgressDisplay(_log, interactive: false, _o.LogEvery);
        long end = _o.StopAt > 0 ? Math.Min(_o.StopAt, _o.Steps) : _o.Steps;
        var clock = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        long windowStart = start;
        double lastLoss = double.NaN;
        VisionEvaluation? lastEval = null;
        string? lastCheckpoint = null;
        for (long step = start + 1; step <= end; step++)
        {
            BatchIndices(step, perm, ref permEpoch, indices);
            builder.Fill(_train, indices, images, labels, new Random(unchecked(_o.Seed * 1_000_003 + (int)step * 7_919 + 1)), _o.CropPadding, _o.Flip);
            Array.Clear(gCore); Array.Clear(gStem);
            float loss = net.ForwardBackward(images, labels, gCore, gStem);
            if (!float.IsFinite(loss)) throw new TrainingDivergedException(step, $"training loss is {loss} at step {step}: the run diverged; lower --lr or raise --warmup");
            double nc = GradientMath.GlobalNorm(gCore), ns = GradientMath.GlobalNorm(gStem);
            double norm = Math.Sqrt(nc * nc + ns * ns);
            if (_o.Clip > 0 && norm > _o.Clip)
            {
                float f = (float)(_o.Clip / norm);
                GradientMath.Scale(gCore, f); GradientMath.Scale(gStem, f);
            }
            float lr = (float)schedule.At(step - 1);
            adamCore.Update(_model.Core.Parameters, gCore, lr);
            adamStem.Update(_model.Stem, gStem, lr);
            lastLoss = loss;
            StepLosses.Add((step, loss));
            double elapsed = elapsedBefore + clock.Elapsed.TotalSeconds;
            if (metrics != null)
                WriteLine(metrics, $"{{\"step\":{step},\"loss\":{R(loss)},\"lr\":{R(lr)},\"grad_norm\":{R(norm)},\"epoch\":{R((double)step / StepsPerEpoch)},\"elapsed_s\":{R(elapsed)}}}");
            if (step % _o.LogEvery == 0 || step == end)
            {
                double ips = (step - windowStart) * _o.Batch / Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                double eta = (end - step) * _o.Batch / Math.Max(ips, 1e-9);
                display.Line(string.Create(CultureInfo.InvariantCulture,
                    $"step {step}/{_o.Steps} | epoch {(double)step / StepsPerEpoch:F2} | loss {loss:F4} | lr {lr:E2} | {ips:F0} images/s | ETA {ProgressDisplay.FormatEta(TimeSpan.FromSeconds(eta))}"));
                window.Restart(); windowStart = step;
            }
            bool final = step == end;
            if (_test != null && ((_o.EvalEvery > 0 && step % _o.EvalEvery == 0) || step == _o.Steps))
            {
                var evalClock = Stopwatch.StartNew();
                lastEval = VisionEvaluator.Evaluate(net, _test);
                Evaluations.Add((step, lastEval.Loss, lastEval.Accuracy));
                if (metrics != null) WriteLine(metrics, $"{{\"step\":{step},\"test_loss\":{R(lastEval.Loss)},\"test_acc\":{R(lastEval.Accuracy)},\"train_flops\":{R(step * (double)_o.Batch * VisionFlops.TrainingPerImage(c))}}}");
                display.Line(string.Create(CultureInfo.InvariantCulture,
                    $"eval step {step}: test_loss {lastEval.Loss:F4} | test_acc {lastEval.Accuracy * 100:F2}% ({lastEval.Count} images, {evalClock.Elapsed.TotalSeconds:F1} s) | elapsed {ProgressDisplay.FormatEta(TimeSpan.FromSeconds(elapsedBefore + clock.Elapsed.TotalSeconds))}"));
                if (_run != null) SaveCurves();
                window.Restart(); windowStart = step;
            }
            if (store != null && ((_o.SaveEvery > 0 && step % _o.SaveEvery == 0) || final))
            {
                metrics!.Flush(true);
                lastCheckpoint = store.Save(_model, adamCore, adamStem, new VisionTrainerState
                {
                    Step = step, Options = _o, MetricsBytes = metrics.Length, ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds, Data = _dataName,
                }, _o.KeepLast);
                display.Line($"saved checkpoint {lastCheckpoint}");
            }
        }
        if (_run != null) SaveCurves();
        return new VisionTrainingResult(end, lastLoss, lastEval, elapsedBefore + clock.Elapsed.TotalSeconds, lastCheckpoint);
    }

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static FileStream OpenMetrics(string path, long keep)
    {
        var fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        fs.SetLength(Math.Min(keep, fs.Length));
        fs.Seek(0, SeekOrigin.End);
        return fs;
    }

    private static void WriteLine(FileStream f, string line)
    {
        byte[] b = Encoding.UTF8.GetBytes(line + "\n");
        f.Write(b);
        f.Flush();
    }

    /// <summary>RUN/loss.svg (training loss, its running mean and the test loss) and RUN/accuracy.svg, from metrics.jsonl so a resumed run draws the whole curve.</summary>
    private void SaveCurves()
    {
        var (steps, evals) = ReadMetrics(Path.Combine(_run!, MetricsFile));
        var loss = steps.Select(s => ((double)s.Step, s.Loss)).ToList();
        var series = new List<LinePlotSvg.Series>
        {
            new("training loss", "#9ecae1", loss, Dots: false),
            new("running mean (1 % of steps)", "#08519c", LossCurveSvg.RunningMean(loss, Math.Max(1, loss.Count / 100)), Dots: false),
            new("test loss", "#e6550d", evals.Select(e => ((double)e.Step, e.Loss)).ToList()),
        };
        LinePlotSvg.Save(Path.Combine(_run!, "loss.svg"), "Vision TokenFormer: loss", "step", "cross-entropy", series);
        LinePlotSvg.Save(Path.Combine(_run!, "accuracy.svg"), "Vision TokenFormer: test accuracy", "step", "accuracy (%)",
            [new LinePlotSvg.Series("test accuracy", "#31a354", evals.Select(e => ((double)e.Step, e.Accuracy * 100)).ToList())]);
    }

    /// <summary>The step and evaluation records of a metrics.jsonl file.</summary>
    public static (List<(long Step, double Loss)> Steps, List<(long Step, double Loss, double Accuracy)> Evals) ReadMetrics(string path)
    {
        var steps = new List<(long, double)>();
        var evals = new List<(long, double, double)>();
        if (!File.Exists(path)) return (steps, evals);
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        while (reader.ReadLine() is { } line)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            var root = doc.RootElement;
            long step = root.GetProperty("step").GetInt64();
            if (root.TryGetProperty("test_acc", out var acc)) evals.Add((step, root.GetProperty("test_loss").GetDouble(), acc.GetDouble()));
            else steps.Add((step, root.GetProperty("loss").GetDouble()));
        }
        return (steps, evals);
    }
}
