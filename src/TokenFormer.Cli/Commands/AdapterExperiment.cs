using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using TokenFormer.Core.IO;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Model.Adapters;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer experiment adapters</c> (docs/adapters.md, Experiment): adapts a base model to a new domain at equal
/// steps and schedule in several ways — adapters of several K (all Pattentions, base frozen), full fine-tuning, and
/// training only the last layers (with the final norm; embedding and earlier layers frozen) — and reports per arm the
/// new-domain validation loss, the old-domain validation loss (forgetting), the trainable parameters and the wall time,
/// as a markdown table and an SVG plot of the new-domain validation loss against steps.
/// </summary>
internal static class AdapterExperiment
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private sealed record Arm(string Name, string Color, long Trainable, double Seconds, IReadOnlyList<EvalMetrics> Evals, double NewLoss, double OldLoss);

    public static Command Create()
    {
        var baseDir = new Option<string>("--base") { Description = "Base model directory (trained on the old domain)", Required = true };
        var newData = new Option<string>("--new-data") { Description = "New-domain data directory prepared with the base's tokenizer", Required = true };
        var oldData = new Option<string>("--old-data") { Description = "Old-domain data directory (its val split measures forgetting)", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the trained adapters", Required = true };
        var docs = new Option<string>("--docs") { Description = "Where adapters-results.md and adapters-loss.svg are written", Required = true };
        var steps = new Option<long>("--steps") { Description = "Optimiser steps of every arm (default 300)", DefaultValueFactory = _ => 300 };
        var tokens = new Option<string>("--tokens") { Description = "Adapter sizes K, comma-separated (default 4,16,64)", DefaultValueFactory = _ => "4,16,64" };
        var lastLayers = new Option<int>("--last-layers") { Description = "Layers trained by the last-layers arm (default 1)", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch") { Description = "Sequences per step (default 8)", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence (default 128)", DefaultValueFactory = _ => 128 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate of full fine-tuning and the last-layers arm (default 1e-3)", DefaultValueFactory = _ => 1e-3 };
        var adapterLr = new Option<double>("--adapter-lr") { Description = "Peak learning rate of the adapters (default 3e-3)", DefaultValueFactory = _ => 3e-3 };
        var evalEvery = new Option<long>("--eval-every") { Description = "Evaluate every N steps (default 50)", DefaultValueFactory = _ => 50 };
        var evalWindows = new Option<int>("--eval-windows") { Description = "Validation windows per evaluation (default 32)", DefaultValueFactory = _ => 32 };
        var cmd = new Command("adapters", "Adapters of several K vs full fine-tuning vs the last layers, at equal steps: new- and old-domain loss, trainable parameters, time.")
        {
            baseDir, newData, oldData, output, docs, steps, tokens, lastLayers, batch, seq, lr, adapterLr, evalEvery, evalWindows,
        };
        cmd.SetAction(parse =>
        {
            string basePath = GrowCommand.ResolveModelDirectory(parse.GetValue(baseDir)!, "--base");
            TokenFormerModel baseModel = GrowCommand.LoadModel(basePath);
            using TokenDataset newTrain = TrainCommand.OpenSplit(parse.GetValue(newData)!, "train");
            using TokenDataset newVal = TrainCommand.OpenSplit(parse.GetValue(newData)!, "val");
            using TokenDataset oldVal = TrainCommand.OpenSplit(parse.GetValue(oldData)!, "val");
            if (newTrain.Meta.TokenizerHash != oldVal.Meta.TokenizerHash)
                throw new CliException("--new-data and --old-data were prepared with different tokenizers; prepare both with the base's tokenizer");
            int b = parse.GetValue(batch), t = parse.GetValue(seq), windows = parse.GetValue(evalWindows), layersTrained = parse.GetValue(lastLayers);
            long n = parse.GetValue(steps);
            int[] ks = parse.GetValue(tokens)!.Split(',').Select(s => int.Parse(s.Trim(), Inv)).ToArray();
            string outDir = parse.GetValue(output)!, docsDir = parse.GetValue(docs)!;
            var trainSource = new TrainCommand.DatasetSource(newTrain);
            var newSource = new TrainCommand.DatasetSource(newVal);
            var oldSource = new TrainCommand.DatasetSource(oldVal);
            long[] oldStarts = Evaluator.EvenlySpaced(oldVal.Count, t, windows), newStarts = Evaluator.EvenlySpaced(newVal.Count, t, windows);
            double Loss(TokenFormerModel m, ITokenSource source, long[] starts) => new Evaluator(new ModelRunner(m, b, t, training: false)).Run(source, starts).Loss;

            double baseNew = Loss(baseModel, newSource, newStarts), baseOld = Loss(baseModel, oldSource, oldStarts);
            Console.WriteLine(string.Create(Inv, $"base {basePath}: {baseModel.Parameters.LongLength:N0} parameters; new-domain val loss {baseNew:F4}, old-domain val loss {baseOld:F4}"));
            TrainingOptions Options(double peak) => new()
            {
                Steps = n, Batch = b, Sequence = t, LearningRate = peak, MinLearningRate = peak / 10, Warmup = Math.Max(1, n / 10),
                WeightDecay = 0.1, Clip = 1.0, Seed = 1234, EvalEvery = parse.GetValue(evalEvery), EvalWindows = windows, SaveEvery = 0, KeepLast = 0, LogEvery = 50,
            };
            Arm Run(string name, string color, TokenFormerModel model, TrainingOptions options, IReadOnlyList<ParameterRange>? frozen, long trainable)
            {
                Console.WriteLine($"--- {name}: {trainable:N0} trainable parameters, {options.Steps} steps at lr {options.LearningRate.ToString(Inv)}");
                var context = new TrainerContext { Output = Console.Out, Frozen = frozen };
                using Trainer trainer = Trainer.StartFrom(model, options, trainSource, newSource, null, context);
                var watch = Stopwatch.StartNew();
                trainer.Run();
                double seconds = watch.Elapsed.TotalSeconds;
                double newLoss = trainer.EvalRecords[^1].ValLoss, oldLoss = Loss(model, oldSource, oldStarts);
                Console.WriteLine(string.Create(Inv, $"{name}: new-domain val loss {newLoss:F4}, old-domain val loss {oldLoss:F4}, {seconds:F1} s"));
                return new Arm(name, color, trainable, seconds, trainer.EvalRecords.ToList(), newLoss, oldLoss);
            }

            var arms = new List<Arm>();
            string[] colors = ["#1f77b4", "#2ca02c", "#17becf", "#9467bd", "#8c564b"];
            for (int i = 0; i < ks.Length; i++)
            {
                AdapterConfig config = Adapter.Describe(baseModel, new TokenCounts(ks[i], ks[i], ks[i]), 1234, 1);
                TokenFormerModel merged = Adapter.StartMerged(baseModel, config, basePath);
                long trainable = Adapter.Extract(merged, config, 0).ParameterCount;
                arms.Add(Run($"adapter K={ks[i]}", colors[i % colors.Length], merged, Options(parse.GetValue(adapterLr)) with { FreezeOld = true }, null, trainable));
                Adapter.Extract(merged, config, n).Save(Path.Combine(outDir, $"adapter-k{ks[i]}"));
            }
            TokenFormerModel Copy()
            {
                var m = new TokenFormerModel(baseModel.Config.Clone());
                baseModel.Parameters.CopyTo(m.Parameters, 0);
                return m;
            }
            arms.Add(Run("full fine-tuning", "#d62728", Copy(), Options(parse.GetValue(lr)), null, baseModel.Parameters.LongLength));
            // last layers: every tensor of the earlier layers and the tied embedding frozen; the last layers and the final norm train
            int firstTrained = baseModel.Config.NumLayers - layersTrained;
            var frozenRanges = baseModel.Layout.Tensors
                .Where(x => x.Role == ParameterRole.Embedding || (x.Layer >= 0 && x.Layer < firstTrained))
                .Select(x => new ParameterRange(x.Offset, x.Length)).ToList();
            long frozenCount = frozenRanges.Sum(r => (long)r.Length);
            arms.Add(Run($"last {layersTrained} layer{(layersTrained == 1 ? "" : "s")}", "#ff7f0e", Copy(), Options(parse.GetValue(lr)), frozenRanges, baseModel.Parameters.LongLength - frozenCount));

            var md = new StringBuilder();
            md.Append(Inv, $"Base: {basePath} ({baseModel.Parameters.LongLength:N0} parameters, L{baseModel.Config.NumLayers} d{baseModel.Config.HiddenSize}); every arm {n} steps of {b}×{t} tokens, warmup {Math.Max(1, n / 10)} then cosine to a tenth, {Parallelism.ThreadCount} threads.\n\n");
            md.Append("| arm | trainable parameters | % of the base | new-domain val loss | old-domain val loss (forgetting) | wall time |\n|---|---|---|---|---|---|\n");
            md.Append(Inv, $"| base (no training) | 0 | 0 % | {baseNew:F4} | {baseOld:F4} | — |\n");
            foreach (Arm a in arms)
                md.Append(Inv, $"| {a.Name} | {a.Trainable:N0} | {100.0 * a.Trainable / baseModel.Parameters.LongLength:F2} % | {a.NewLoss:F4} | {a.OldLoss:F4} ({a.OldLoss - baseOld:+0.0000;-0.0000}) | {a.Seconds:F0} s |\n");
            Directory.CreateDirectory(docsDir);
            AtomicFile.WriteAllText(Path.Combine(docsDir, "adapters-results.md"), md.ToString());
            var series = arms.Select(a => new LinePlotSvg.Series(a.Name, a.Color, a.Evals.Select(e => ((double)e.Step, e.ValLoss)).ToList())).ToList();
            string svg = LinePlotSvg.Render("New-domain validation loss while adapting (equal steps)", "optimizer step", "validation loss (new domain)", series,
                [new LinePlotSvg.Reference(baseNew, "base, new domain")]);
            AtomicFile.WriteAllText(Path.Combine(docsDir, "adapters-loss.svg"), svg);
            Console.Write(md.ToString());
            return 0;
        });
        return cmd;
    }
}
