using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;
using TokenFormer.Core.IO;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer experiment growth-report</c>: the table and plot of the growth experiment (experiments/growth/run.sh,
/// docs/growth.md) — validation loss against cumulative training FLOPs (<see cref="TrainingFlops"/>) for a small model S
/// trained from scratch, models grown from S and trained on (their FLOPs include S's), and the large model L from scratch.
/// </summary>
public static class ExperimentCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create()
    {
        var cmd = new Command("experiment", "Scripted experiments' reports (see experiments/).");
        cmd.Subcommands.Add(GrowthReport());
        cmd.Subcommands.Add(AdapterExperiment.Create());
        return cmd;
    }

    private static Command GrowthReport()
    {
        var root = new Option<string>("--out") { Description = "Folder holding the experiment's run directories", Required = true };
        var docs = new Option<string>("--docs") { Description = "Where growth-loss-flops.svg and growth-results.md are written", Required = true };
        var small = new Option<string>("--small") { Description = "Run directory name of S (from scratch)", Required = true };
        var large = new Option<string[]>("--large") { Description = "Run directory names of L from scratch (repeatable, e.g. a learning-rate sweep); the target is the lowest final validation loss among them", Required = true, AllowMultipleArgumentsPerToken = true };
        var grown = new Option<string[]>("--grown") { Description = "Run directory names of the runs started from S grown (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var baseline = new Option<string[]>("--baseline") { Description = "Other from-scratch runs to show (e.g. S trained for the grown runs' whole budget; repeatable)", AllowMultipleArgumentsPerToken = true };
        var tolerance = new Option<double>("--tolerance") { Description = "Relative tolerance on L's final validation loss (default 0.01)", DefaultValueFactory = _ => 0.01 };
        var budget = new Option<double>("--budget") { Description = "FLOP budget to test, as a fraction of L's (default 0.6)", DefaultValueFactory = _ => 0.6 };
        var seqOption = new Option<int?>("--seq") { Description = "Ignored (the sequence length is read from each run's trainer_state.json)" };
        var cmd = new Command("growth-report", "Table (markdown) and plot (SVG) of validation loss against cumulative training FLOPs for the growth experiment.")
        {
            root, docs, small, large, grown, baseline, tolerance, budget, seqOption,
        };
        cmd.SetAction(parse =>
        {
            string dir = parse.GetValue(root)!, docsDir = parse.GetValue(docs)!;
            double tol = parse.GetValue(tolerance), frac = parse.GetValue(budget);
            RunData s = RunData.Load(Path.Combine(dir, parse.GetValue(small)!), 0);
            var ls = parse.GetValue(large)!.Select(name => RunData.Load(Path.Combine(dir, name), 0)).ToList();
            RunData l = ls.OrderBy(r => r.Evals[^1].Loss).First();
            var g = parse.GetValue(grown)!.Select(name => RunData.Load(Path.Combine(dir, name), s.TotalFlops)).ToList();
            var extra = (parse.GetValue(baseline) ?? []).Select(name => RunData.Load(Path.Combine(dir, name), 0)).ToList();
            double lFinal = l.Evals[^1].Loss, threshold = lFinal * (1 + tol), lTotal = l.TotalFlops;

            var md = new StringBuilder();
            md.Append(Inv, $"Target: L's final validation loss (best L run: {l.Name}) {lFinal:F4} × (1 + {tol:0.###}) = **{threshold:F4}**; budget {frac:P0} of L's {lTotal:E3} training FLOPs = {frac * lTotal:E3}.\n\n");
            md.Append("| run | parameters (non-embedding) | FLOPs/token | peak lr | steps × tokens | own training FLOPs | cumulative FLOPs (with S) | % of L's | final val loss | full-split val loss | first eval ≤ target | % of L's FLOPs there |\n");
            md.Append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            foreach (RunData r in new[] { s }.Concat(g).Concat(extra).Concat(ls))
            {
                (long Step, double Flops)? hit = r.FirstAtOrBelow(threshold);
                md.Append(Inv, $"| {r.Name}{r.Describe()} | {r.Model.Parameters.LongLength:N0} ({TrainingFlops.NonEmbeddingParameters(r.Model.Config):N0}) | {r.FlopsPerToken / 1e6:F2} M | {r.LearningRate:G3} | {r.Steps:N0} × {r.TokensPerStep:N0} | {r.OwnFlops:E3} | {r.TotalFlops:E3} | {r.TotalFlops / lTotal:P1} | {r.Evals[^1].Loss:F4} | {(r.FullValLoss is double f ? f.ToString("F4", Inv) : "–")} | ");
                md.Append(hit is { } h ? string.Create(Inv, $"step {h.Step} ({h.Flops:E3}) | {h.Flops / lTotal:P1} |\n") : "not reached | – |\n");
            }
            foreach (RunData r in g.Concat(extra))
            {
                (long Step, double Flops)? hit = r.FirstAtOrBelow(threshold);
                bool ok = hit is { } h && h.Flops <= frac * lTotal;
                double atBudget = r.LossAtOrBefore(frac * lTotal);
                md.Append(Inv, $"\n- **{r.Name}**: {(ok ? "reaches" : "does not reach")} L's final loss within {tol:P0} with ≤ {frac:P0} of L's FLOPs " +
                    $"(its best validation loss within the budget: {atBudget:F4}, {(atBudget / lFinal - 1):+0.00%;-0.00%} from L's final {lFinal:F4}).");
            }
            md.Append('\n');
            Directory.CreateDirectory(docsDir);
            string mdPath = Path.Combine(docsDir, "growth-results.md"), svgPath = Path.Combine(docsDir, "growth-loss-flops.svg");
            AtomicFile.WriteAllText(mdPath, md.ToString());
            string[] colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"];
            var series = new List<LinePlotSvg.Series>
            {
                new($"{s.Name} (scratch)", "#7f7f7f", s.Points()),
            };
            string[] grays = ["#111111", "#555555", "#999999"];
            for (int i = 0; i < ls.Count; i++) series.Add(new($"{ls[i].Name} (scratch)", grays[i % grays.Length], ls[i].Points(), Dashed: i > 0));
            for (int i = 0; i < extra.Count; i++) series.Add(new($"{extra[i].Name} (scratch)", "#bcbd22", extra[i].Points(), Dashed: true));
            for (int i = 0; i < g.Count; i++) series.Add(new($"{g[i].Name}{g[i].Describe()}", colors[i % colors.Length], g[i].Points(), Dashed: i % 2 == 1));
            LinePlotSvg.Save(svgPath, "Validation loss vs cumulative training FLOPs (grown runs include S's FLOPs)",
                "cumulative training FLOPs (×10¹²), 6·N per token + attention", "validation loss (nats/token)", series,
                [new LinePlotSvg.Reference(threshold, string.Create(Inv, $"L's final × {1 + tol:0.###} = {threshold:F3}"), "#d62728")],
                [new LinePlotSvg.Reference(frac * lTotal / 1e12, string.Create(Inv, $"{frac:P0} of L's FLOPs"), "#d62728")]);
            Console.Write(md.ToString());
            Console.WriteLine($"wrote {mdPath} and {svgPath}");
            return 0;
        });
        return cmd;
    }


    /// <summary>One run directory's figures: model, options, evaluations and FLOPs.</summary>
    private sealed class RunData
    {
        public required string Name { get; init; }
        public required TokenFormerModel Model { get; init; }
        public required double FlopsPerToken { get; init; }
        public required long TokensPerStep { get; init; }
        public required long Steps { get; init; }
        public required double Offset { get; init; }
        public required List<(long Step, double Loss)> Evals { get; init; }
        public double? FullValLoss { get; init; }
        public double LearningRate { get; init; }
        public double OwnFlops => Steps * TokensPerStep * FlopsPerToken;
        public double TotalFlops => Offset + OwnFlops;
        public double FlopsAt(long step) => Offset + step * TokensPerStep * FlopsPerToken;

        public string Describe() => GrowthLineage.Last(Model.Config) is { } st ? $" (grown, {st.Mode})" : "";

        public List<(double X, double Y)> Points() => Evals.Select(e => (FlopsAt(e.Step) / 1e12, e.Loss)).ToList();

        public (long Step, double Flops)? FirstAtOrBelow(double threshold)
        {
            foreach (var (step, loss) in Evals)
                if (loss <= threshold) return (step, FlopsAt(step));
            return null;
        }

        public double LossAtOrBefore(double flops) =>
            Evals.Where(e => FlopsAt(e.Step) <= flops * (1 + 1e-9)).Select(e => e.Loss).DefaultIfEmpty(double.NaN).Min();

        public static RunData Load(string dir, double offset)
        {
            var store = new CheckpointStore(dir);
            var latest = store.Latest() ?? throw new CliException($"{dir}: no complete checkpoint (is the run finished?)");
            TrainerState state;
            try { state = TrainerState.Load(Path.Combine(latest.Path, TrainerState.FileName)); }
            catch (InvalidDataException e) { throw new CliException(e.Message); }
            TokenFormerModel model = GrowCommand.LoadModel(latest.Path);
            string metrics = Path.Combine(dir, Trainer.MetricsFile);
            if (!File.Exists(metrics)) throw new CliException($"{metrics}: file not found");
            var evals = new List<(long, double)>();
            foreach (string line in File.ReadLines(metrics))
            {
                if (line.Length == 0) continue;
                using JsonDocument doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("val_loss", out JsonElement v) && v.ValueKind == JsonValueKind.Number)
                    evals.Add((doc.RootElement.GetProperty("step").GetInt64(), v.GetDouble()));
            }
            if (evals.Count == 0) throw new CliException($"{metrics}: no evaluation records (train with --eval-every > 0)");
            double? full = null;
            string evalFile = dir.TrimEnd('/') + ".eval";
            if (File.Exists(evalFile))
            {
                string text = File.ReadAllText(evalFile);
                int at = text.IndexOf("| loss ", StringComparison.Ordinal);
                if (at >= 0 && double.TryParse(text.AsSpan(at + 7).ToString().Split(' ')[0], NumberStyles.Float, Inv, out double f)) full = f;
            }
            return new RunData
            {
                Name = Path.GetFileName(dir.TrimEnd('/')), Model = model, FlopsPerToken = TrainingFlops.PerToken(model.Config, state.Sequence),
                TokensPerStep = (long)state.Batch * state.Sequence * state.GradAccum, Steps = state.Step, Offset = offset,
                Evals = evals, FullValLoss = full, LearningRate = state.LearningRate,
            };
        }
    }
}
