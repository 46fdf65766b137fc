using System.CommandLine;
using System.Globalization;
using TokenFormer.Core.IO;
using TokenFormer.Model;
using TokenFormer.Model.Distributed;
using TokenFormer.Model.Training;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer bench scaling-model</c>: the α–β cost model of docs/distributed.md (<see cref="ScalingModel"/>) for
/// presets, networks and node counts, as a table and optionally an SVG plot of the predicted scaling efficiency.
/// </summary>
public static class ScalingModelCommand
{
    public static Command Create()
    {
        var presets = new Option<string>("--presets") { Description = "Comma-separated presets (default 150m,450m,1.5b)", DefaultValueFactory = _ => "150m,450m,1.5b" };
        var networks = new Option<string>("--networks") { Description = "Comma-separated link speeds in Gb/s (default 25,100,400)", DefaultValueFactory = _ => "25,100,400" };
        var nodes = new Option<string>("--nodes") { Description = "Comma-separated node counts (default 8,16,32,64,128,256)", DefaultValueFactory = _ => "8,16,32,64,128,256" };
        var tflops = new Option<double>("--node-tflops") { Description = "Sustained training TFLOP/s of one node (required; e.g. measured tokens/s × FLOPs per token)", Required = true };
        var tokens = new Option<double>("--tokens-per-node") { Description = "Tokens per node and optimiser step (default 65536 = 32 × 2048)", DefaultValueFactory = _ => 65536 };
        var seq = new Option<int>("--seq") { Description = "Sequence length (default 2048)", DefaultValueFactory = _ => 2048 };
        var alpha = new Option<double>("--alpha-us") { Description = "Per-message latency α in microseconds (default 20)", DefaultValueFactory = _ => 20 };
        var svg = new Option<string?>("--svg") { Description = "Write the efficiency plot (with overlap) to this SVG file" };
        var cmd = new Command("scaling-model", "Predicted data-parallel scaling efficiency (α–β model of a ring allreduce, docs/distributed.md) for presets, networks and node counts.")
        {
            presets, networks, nodes, tflops, tokens, seq, alpha, svg,
        };
        cmd.SetAction(parse =>
        {
            double nodeFlops = parse.GetValue(tflops) * 1e12, perNode = parse.GetValue(tokens), a = parse.GetValue(alpha) * 1e-6;
            int t = parse.GetValue(seq);
            if (!(nodeFlops > 0) || !(perNode > 0) || !(a >= 0) || t < 1) throw new CliException("--node-tflops, --tokens-per-node and --seq must be positive and --alpha-us at least 0");
            string[] names = parse.GetValue(presets)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            double[] gbits = Parse(parse.GetValue(networks)!, "--networks");
            int[] counts = [.. Parse(parse.GetValue(nodes)!, "--nodes").Select(x => (int)x)];
            if (counts.Any(c => c < 1)) throw new CliException("--nodes: every count must be at least 1");
            var configs = names.Select(n =>
            {
                try { return (Name: n, Config: TokenFormerPresets.Get(n)); }
                catch (TokenFormerConfigException e) { throw new CliException("--presets: " + e.Message); }
            }).ToList();
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"weak scaling: {perNode:N0} tokens per node and step, seq {t}, node {nodeFlops / 1e12:G4} TFLOP/s, α {a * 1e6:G3} us, ring allreduce of float32 gradients"));
            Console.WriteLine($"{"preset",-7} {"Gb/s",5} {"nodes",6} {"compute ms",11} {"allreduce ms",13} {"exposed ms",11} {"eff. overlap",13} {"eff. none",10}");
            string[] colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
            var series = new List<LinePlotSvg.Series>();
            for (int p = 0; p < configs.Count; p++)
                foreach (double g in gbits)
                {
                    var points = new List<(double, double)>();
                    foreach (int n in counts)
                    {
                        var with = ScalingModel.Predict(configs[p].Config, t, perNode, nodeFlops, n, a, g * 1e9 / 8, overlap: true);
                        var without = ScalingModel.Predict(configs[p].Config, t, perNode, nodeFlops, n, a, g * 1e9 / 8, overlap: false);
                        Console.WriteLine(string.Create(inv,
                            $"{configs[p].Name,-7} {g,5:G4} {n,6} {with.ComputeSeconds * 1e3,11:F1} {with.AllreduceSeconds * 1e3,13:F1} {with.ExposedSeconds * 1e3,11:F1} {100 * with.Efficiency,12:F1}% {100 * without.Efficiency,9:F1}%"));
                        points.Add((n, 100 * with.Efficiency));
                    }
                    series.Add(new LinePlotSvg.Series(string.Create(inv, $"{configs[p].Name}, {g:G4} Gb/s"), colors[p % colors.Length], points,
                        Dashed: g < gbits.Max() && g == gbits.Min(), Dots: g != gbits.Max()));
                }
            if (parse.GetValue(svg) is string path)
            {
                string title = string.Create(inv, $"predicted data-parallel efficiency, {perNode:N0} tokens/node/step, node {nodeFlops / 1e12:G3} TFLOP/s, α {a * 1e6:G3} us, overlapped buckets");
                AtomicFile.WriteAllText(path, LinePlotSvg.Render(title, "nodes", "scaling efficiency (%)", series));
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        });
        return cmd;
    }

    private static double[] Parse(string list, string flag) =>
        [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x =>
            double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 ? v : throw new CliException($"{flag}: '{x}' is not a positive number"))];
}
