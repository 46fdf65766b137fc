using System.CommandLine;
using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Training;
using TokenFormer.Vision;
using TokenFormer.Vision.Data;
using TokenFormer.Vision.Training;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer vision train|eval|predict</c>: thin over src/TokenFormer.Vision (docs/vision.md). Library errors that
/// name a file become one-line CLI errors.
/// </summary>
public static class VisionCommand
{
    public static Command Create()
    {
        var cmd = new Command("vision", "Vision TokenFormer image classifier: train, evaluate and run it (docs/vision.md)");
        cmd.Subcommands.Add(Train());
        cmd.Subcommands.Add(VisionEvalCommand.Create());
        cmd.Subcommands.Add(VisionPredictCommand.Create());
        cmd.Subcommands.Add(Bench());
        return cmd;
    }

    /// <summary>Runs <paramref name="body"/>, turning the library's expected failures into <see cref="CliException"/>.</summary>
    internal static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (VisionFormatException e) { throw new CliException(e.Message); }
        catch (TokenFormerConfigException e) { throw new CliException(e.Message); }
        catch (InvalidSettingException e) { throw LibraryErrors.ToCli(e, Flags); }
        catch (TrainingDivergedException e) { throw new CliException(e.Message); }
    }

    private static readonly Dictionary<string, string> Flags = new()
    {
        [nameof(VisionTrainingOptions.Steps)] = "--steps", [nameof(VisionTrainingOptions.Batch)] = "--batch", [nameof(VisionTrainingOptions.LearningRate)] = "--lr",
        [nameof(VisionTrainingOptions.MinLearningRate)] = "--min-lr", [nameof(VisionTrainingOptions.Warmup)] = "--warmup",
        [nameof(VisionTrainingOptions.WeightDecay)] = "--weight-decay", [nameof(VisionTrainingOptions.Clip)] = "--clip",
        [nameof(VisionTrainingOptions.CropPadding)] = "--crop-padding", [nameof(VisionTrainingOptions.EvalEvery)] = "--eval-every",
        [nameof(VisionTrainingOptions.SaveEvery)] = "--save-every", [nameof(VisionTrainingOptions.KeepLast)] = "--keep-last",
        [nameof(VisionTrainingOptions.StopAt)] = "--stop-at", [nameof(VisionTrainingOptions.LogEvery)] = "--log-every",
    };

    private static Command Train()
    {
        var data = new Option<string>("--data") { Description = "fashion-mnist (Debian's dataset-fashion-mnist), a folder with the four IDX files, or an image folder (train/CLASS/*, test/CLASS/* or CLASS/*)", DefaultValueFactory = _ => "fashion-mnist" };
        var output = new Option<string>("--out") { Description = "Run directory (checkpoints, metrics.jsonl, loss.svg, accuracy.svg)", Required = true };
        var preset = new Option<string>("--preset") { Description = $"Model size: {string.Join(", ", VisionPresets.All.Select(p => p.Name))} (default {VisionPresets.Default})", DefaultValueFactory = _ => VisionPresets.Default };
        var layers = new Option<int?>("--layers") { Description = "Blocks (overrides the preset)" };
        var hidden = new Option<int?>("--hidden") { Description = "Hidden size d (overrides the preset)" };
        var heads = new Option<int?>("--heads") { Description = "Attention heads (overrides the preset)" };
        var patch = new Option<int?>("--patch-size") { Description = "Patch side in pixels (overrides the preset; must divide the image size)" };
        var qkv = new Option<int?>("--qkv-tokens") { Description = "Parameter tokens of each Q/K/V Pattention" };
        var proj = new Option<int?>("--proj-tokens") { Description = "Parameter tokens of the output projection" };
        var ffn = new Option<int?>("--ffn-tokens") { Description = "Parameter tokens of the FFN" };
        var imageSize = new Option<int>("--image-size") { Description = "Image side for image folders (IDX files keep theirs)", DefaultValueFactory = _ => 32 };
        var channels = new Option<int>("--channels") { Description = "Channels for image folders: 1 (greyscale) or 3 (RGB)", DefaultValueFactory = _ => 3 };
        var d = new VisionTrainingOptions();
        var epochs = new Option<double?>("--epochs") { Description = "Epochs (passes over the training set); or --steps; without either, --minutes plans the steps" };
        var minutes = new Option<double>("--minutes") { Description = "Without --epochs/--steps: plan the steps from a short timing so that training and evaluation take about M minutes (default 18)", DefaultValueFactory = _ => 18 };
        var steps = new Option<long?>("--steps") { Description = "Optimiser steps instead of --epochs" };
        var batch = new Option<int>("--batch") { Description = $"Images per step (default {d.Batch})", DefaultValueFactory = _ => d.Batch };
        var lr = new Option<double>("--lr") { Description = $"Peak learning rate (default {d.LearningRate})", DefaultValueFactory = _ => d.LearningRate };
        var minLr = new Option<double>("--min-lr") { Description = $"Cosine floor (default {d.MinLearningRate})", DefaultValueFactory = _ => d.MinLearningRate };
        var warmup = new Option<long>("--warmup") { Description = $"Warmup steps (default {d.Warmup})", DefaultValueFactory = _ => d.Warmup };
        var wd = new Option<double>("--weight-decay") { Description = $"AdamW weight decay (default {d.WeightDecay})", DefaultValueFactory = _ => d.WeightDecay };
        var clip = new Option<double>("--clip") { Description = $"Gradient-norm clip, 0 = off (default {d.Clip})", DefaultValueFactory = _ => d.Clip };
        var seed = new Option<int>("--seed") { Description = $"Seed (default {d.Seed})", DefaultValueFactory = _ => d.Seed };
        var pad = new Option<int>("--crop-padding") { Description = $"Random-crop padding in pixels, 0 = off (default {d.CropPadding})", DefaultValueFactory = _ => d.CropPadding };
        var noFlip = new Option<bool>("--no-flip") { Description = "No horizontal flips" };
        var evalEvery = new Option<long?>("--eval-every") { Description = "Test-set evaluation every N steps (default: every epoch; 0 = only at the end)" };
        var saveEvery = new Option<long?>("--save-every") { Description = "Checkpoint every N steps (default: every epoch; 0 = only at the end)" };
        var keep = new Option<int>("--keep-last") { Description = $"Checkpoints kept (0 = all; default {d.KeepLast})", DefaultValueFactory = _ => d.KeepLast };
        var stopAt = new Option<long>("--stop-at") { Description = "Stop after this step with a checkpoint (resume later with --resume)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its newest checkpoint (same options)" };
        var logEvery = new Option<long>("--log-every") { Description = "Progress line every N steps (default 50)", DefaultValueFactory = _ => 50 };
        var trainLimit = new Option<int>("--train-limit") { Description = "Use only the first N training images (smoke tests)" };
        var testLimit = new Option<int>("--test-limit") { Description = "Use only the first N test images (smoke tests)" };
        var initFrom = new Option<string?>("--init-from") { Description = "Start from this vision model directory (a grown model, or another run's checkpoint) with fresh optimiser state and schedule" };
        var cmd = new Command("train", "Train a vision TokenFormer classifier (defaults: preset small on Fashion-MNIST, as many steps as fit --minutes 18 on this machine, batch 128, AdamW, warmup + cosine, horizontal flips)")
        {
            data, output, preset, layers, hidden, heads, patch, qkv, proj, ffn, imageSize, channels, epochs, steps, minutes, batch, lr, minLr, warmup, wd, clip, seed,
            pad, noFlip, evalEvery, saveEvery, keep, stopAt, resume, logEvery, trainLimit, testLimit, initFrom,
        };
        cmd.SetAction(parse => Guard(() =>
        {
            string run = parse.GetValue(output)!;
            bool resuming = parse.GetValue(resume);
            var store = new VisionCheckpoint(run);
            var latest = store.List().LastOrDefault();
            if (!resuming && latest.Path != null)
                throw new CliException($"{run} already holds checkpoints (newest: {latest.Path}); pass --resume to continue it or choose another --out");
            if (resuming && latest.Path == null) throw new CliException($"--resume: {run} has no complete checkpoint to continue from");
            var (train, test, kind) = VisionData.Load(parse.GetValue(data)!, parse.GetValue(channels), parse.GetValue(imageSize));
            if (parse.GetValue(trainLimit) is > 0 and int tl && tl < train.Count) train = VisionData.Subset(train, Enumerable.Range(0, tl).ToArray(), train.Source);
            if (parse.GetValue(testLimit) is > 0 and int vl && vl < test.Count) test = VisionData.Subset(test, Enumerable.Range(0, vl).ToArray(), test.Source);
            int b = parse.GetValue(batch);
            int perEpoch = Math.Max(1, train.Count / Math.Max(b, 1));
            if (parse.GetValue(epochs) != null && parse.GetValue(steps) != null) throw new CliException("give --epochs or --steps, not both");
            double ep = parse.GetValue(epochs) ?? 10;
            if (!(ep > 0)) throw new CliException($"--epochs must be positive (got {ep.ToString(CultureInfo.InvariantCulture)})");
            bool planByTime = !resuming && parse.GetValue(epochs) == null && parse.GetValue(steps) == null;
            var options = new VisionTrainingOptions
            {
                Steps = parse.GetValue(steps) ?? (long)Math.Round(ep * perEpoch), Batch = b, LearningRate = parse.GetValue(lr), MinLearningRate = parse.GetValue(minLr),
                Warmup = parse.GetValue(warmup), WeightDecay = parse.GetValue(wd), Clip = parse.GetValue(clip), Seed = parse.GetValue(seed),
                CropPadding = parse.GetValue(pad), Flip = !parse.GetValue(noFlip), EvalEvery = parse.GetValue(evalEvery) ?? perEpoch,
                SaveEvery = parse.GetValue(saveEvery) ?? perEpoch, KeepLast = parse.GetValue(keep), StopAt = parse.GetValue(stopAt), LogEvery = parse.GetValue(logEvery),
            };
            VisionModel model;
            string? from = null;
            if (resuming)
            {
                from = latest.Path!;
                VisionTrainingOptions saved = VisionCheckpoint.ReadState(from).Options;
                if (saved with { StopAt = 0, LogEvery = 1 } != options with { StopAt = 0, LogEvery = 1 })
                    throw new CliException($"--resume: the options differ from those stored in {Path.Combine(from, VisionCheckpoint.StateFile)}; resume with the same options (only --stop-at and --log-every may change)");
                model = VisionModel.Load(from);
                Console.WriteLine($"resuming {run} from {from} (step {latest.Step})");
            }
            else if (parse.GetValue(initFrom) is { } init)
            {
                model = VisionModel.Load(VisionEvalCommand.ResolveModel(init));
                Directory.CreateDirectory(run);
                Console.WriteLine($"initialised from {init} (fresh AdamW state and schedule)");
            }
            else
            {
                VisionPresets.Preset p = VisionPresets.Find(parse.GetValue(preset)!) ?? throw new CliException($"--preset {parse.GetValue(preset)}: unknown (known: {string.Join(", ", VisionPresets.All.Select(x => x.Name))})");
                double[] mean = kind == "folder" ? Enumerable.Repeat(0.5, train.Channels).ToArray() : [FashionMnist.Mean];
                double[] std = kind == "folder" ? Enumerable.Repeat(0.25, train.Channels).ToArray() : [FashionMnist.Std];
                int ps = parse.GetValue(patch) ?? p.PatchSize;
                if (train.Size % ps != 0) throw new CliException($"--patch-size {ps} does not divide the image size {train.Size} of {train.Source}");
                VisionConfig config = VisionConfig.Create(train.Size, train.Channels, ps, train.ClassNames.Length, parse.GetValue(layers) ?? p.Layers,
                    parse.GetValue(hidden) ?? p.Hidden, parse.GetValue(heads) ?? p.Heads, parse.GetValue(qkv) ?? p.QkvTokens, parse.GetValue(proj) ?? p.ProjTokens,
                    parse.GetValue(ffn) ?? p.FfnTokens, mean, std, train.ClassNames);
                model = new VisionModel(config);
                model.InitializeRandom(options.Seed);
                Directory.CreateDirectory(run);
            }
            VisionConfig c = model.Config;
            if (planByTime)
            {
                double m = parse.GetValue(minutes);
                if (!(m > 0)) throw new CliException($"--minutes must be positive (got {m.ToString(CultureInfo.InvariantCulture)})");
                var (planned, secondsPerStep) = PlanSteps(model, train, test.Count, options.Batch, m);
                options = options with { Steps = planned, EvalEvery = parse.GetValue(evalEvery) ?? Math.Min(perEpoch, planned), SaveEvery = parse.GetValue(saveEvery) ?? Math.Min(perEpoch, planned) };
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"plan: {secondsPerStep * 1000:F0} ms per step measured, so {planned:N0} steps ({(double)planned / perEpoch:F1} epochs) fit --minutes {m:G4} with an evaluation per epoch; the same run again: --steps {planned}"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"data: {train.Count:N0} training and {test.Count:N0} test images of {c.Channels}×{c.ImageSize}×{c.ImageSize}, {c.NumClasses} classes ({train.Source})"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"model: L{c.Blocks.NumLayers} d{c.Hidden} {c.Blocks.NumAttentionHeads} heads, patches {c.PatchSize}×{c.PatchSize} ({c.Patches} tokens), tokens qkv {c.Blocks.QkvSlotNum}, proj {c.Blocks.ProjSlotNum}, ffn {c.Blocks.FfnSlotNum}: {model.ParameterCount:N0} parameters"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"training: {options.Steps:N0} steps of {options.Batch} images ({(double)options.Steps / perEpoch:F2} epochs), lr {options.LearningRate:G4} (warmup {options.Warmup}, cosine to {options.MinLearningRate:G3}), weight decay {options.WeightDecay:G3}, crop padding {options.CropPadding}, flips {(options.Flip ? "on" : "off")}, {TokenFormer.Core.Threading.Parallelism.ThreadCount} threads"));
            var trainer = new VisionTrainer(model, train, test, options, run, Console.Out, parse.GetValue(data)!);
            VisionTrainingResult r = trainer.Run(from);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: step {r.Step}, last training loss {r.LastLoss:F4}{(r.LastEvaluation is { } e ? $", test accuracy {e.Accuracy * 100:F2}% (loss {e.Loss:F4})" : "")}, training time {ProgressDisplay.FormatEta(TimeSpan.FromSeconds(r.ElapsedSeconds))}"));
            if (r.Checkpoint != null) Console.WriteLine($"model: {r.Checkpoint}  (tokenformer vision eval --model {r.Checkpoint})");
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// Steps that fit <paramref name="minutes"/>: times forward + backward of a training batch (two untimed, five timed,
    /// the median; the model is not changed), adds 3 % for the optimiser and the batch assembly, and one evaluation of the
    /// test set per epoch at a third of a training step per batch (a forward only).
    /// </summary>
    private static (long Steps, double SecondsPerStep) PlanSteps(VisionModel model, ImageDataset train, int testCount, int batch, double minutes)
    {
        VisionConfig c = model.Config;
        var net = new VisionNetwork(model, batch);
        var builder = new BatchBuilder(c);
        var images = new float[batch * c.Channels * c.ImageSize * c.ImageSize];
        var labels = new int[batch];
        builder.Fill(train, Enumerable.Range(0, batch).ToArray(), images, labels, null, 0, false);
        var gCore = new float[model.Core.Parameters.Length];
        var gStem = new float[model.Stem.Length];
        var times = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            net.ForwardBackward(images, labels, gCore, gStem);
            if (i >= 2) times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        double step = times[times.Count / 2] * 1.03;
        int perEpoch = Math.Max(1, train.Count / batch);
        double evalPerEpoch = Math.Ceiling(testCount / (double)batch) * step / 3;
        double perStep = step + evalPerEpoch / perEpoch;
        return (Math.Max(1, (long)(minutes * 60 / perStep)), step);
    }

    /// <summary>
    /// <c>vision bench</c>: images/s of a training step (forward, backward, clipping, AdamW) and of inference (forward) on
    /// random 28×28 greyscale images, median of --reps timed repetitions after two untimed ones; the same measurement as
    /// tools/reference/vision_bench.py does for PyTorch (docs/vision.md, Throughput).
    /// </summary>
    private static Command Bench()
    {
        var preset = new Option<string>("--preset") { Description = "Model size", DefaultValueFactory = _ => VisionPresets.Default };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => 128 };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions", DefaultValueFactory = _ => 10 };
        var cmd = new Command("bench", "Training and inference throughput (images/s) of a vision preset on random images") { preset, batch, reps };
        cmd.SetAction(parse => Guard(() =>
        {
            VisionPresets.Preset p = VisionPresets.Find(parse.GetValue(preset)!) ?? throw new CliException($"--preset {parse.GetValue(preset)}: unknown");
            int b = parse.GetValue(batch), n = parse.GetValue(reps);
            if (b < 1 || n < 1) throw new CliException("--batch and --reps must be positive");
            var config = VisionConfig.Create(28, 1, p.PatchSize, 10, p.Layers, p.Hidden, p.Heads, p.QkvTokens, p.ProjTokens, p.FfnTokens, [0.5], [0.5]);
            var model = new VisionModel(config);
            model.InitializeRandom(1);
            var net = new VisionNetwork(model, b);
            var rng = new Random(2);
            float[] images = Enumerable.Range(0, b * 28 * 28).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            int[] labels = Enumerable.Range(0, b).Select(i => i % 10).ToArray();
            var gCore = new float[model.Core.Parameters.Length];
            var gStem = new float[model.Stem.Length];
            var adamCore = new TokenFormer.Model.Optimizer.AdamW(model.Core.Layout);
            var adamStem = new TokenFormer.Model.Optimizer.AdamW(model.StemLayout);
            double Time(Action a)
            {
                var times = new List<double>();
                for (int i = 0; i < n + 2; i++)
                {
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    a();
                    if (i >= 2) times.Add(sw.Elapsed.TotalSeconds);
                }
                times.Sort();
                return times[times.Count / 2];
            }
            double train = Time(() =>
            {
                Array.Clear(gCore); Array.Clear(gStem);
                net.ForwardBackward(images, labels, gCore, gStem);
                double norm = Math.Sqrt(Math.Pow(GradientMath.GlobalNorm(gCore), 2) + Math.Pow(GradientMath.GlobalNorm(gStem), 2));
                if (norm > 1) { GradientMath.Scale(gCore, (float)(1 / norm)); GradientMath.Scale(gStem, (float)(1 / norm)); }
                adamCore.Update(model.Core.Parameters, gCore, 1e-4f);
                adamStem.Update(model.Stem, gStem, 1e-4f);
            });
            double infer = Time(() => net.Forward(images));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tokenformer vision bench: preset {p.Name} ({model.ParameterCount:N0} parameters), batch {b}, {TokenFormer.Core.Threading.Parallelism.ThreadCount} threads, median of {n}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"train step {train * 1000:F1} ms = {b / train:F0} images/s; inference {infer * 1000:F1} ms = {b / infer:F0} images/s"));
            return 0;
        }));
        return cmd;
    }
}
