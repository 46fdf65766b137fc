using System.CommandLine;
using System.Globalization;
using TokenFormer.Bench;
using TokenFormer.Model;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer bench train</c>: the training-step benchmark.</summary>
public static class TrainBenchCommand
{
    /// <summary><c>tokenformer bench train</c>: tokens/s of forward + backward + AdamW on a preset, and peak memory.</summary>
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset (see `tokenformer presets`)", DefaultValueFactory = _ => "tiny" };
        var batch = new Option<int>("--batch") { Description = "Sequences per step", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence", DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { Description = "Timed steps (median is reported)", DefaultValueFactory = _ => 8 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps", DefaultValueFactory = _ => 2 };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object" };
        var cmd = new Command("train",
            "Tokens/s of a full training step (forward + backward + AdamW) on random tokens, and the process's peak memory. " +
            "Compare with shared/reference/torch-anchors/bench_torch.py train on the same machine.")
        {
            preset, batch, seq, steps, warmup, json,
        };
        cmd.SetAction(parse =>
        {
            var o = new TrainBenchOptions
            {
                Preset = parse.GetValue(preset)!,
                Batch = parse.GetValue(batch),
                Sequence = parse.GetValue(seq),
                Steps = parse.GetValue(steps),
                Warmup = parse.GetValue(warmup),
                Json = parse.GetValue(json),
            };
            if (o.Batch < 1 || o.Sequence < 1) throw new CliException($"--batch and --seq must be at least 1 (got {o.Batch}, {o.Sequence})");
            if (o.Steps < 1 || o.Warmup < 0) throw new CliException($"--steps must be at least 1 and --warmup at least 0 (got {o.Steps}, {o.Warmup})");
            TrainBenchResult r;
            try { r = TrainBenchmark.Run(o, Console.Out); }
            catch (Exception e) when (e is TokenFormerConfigException or ArgumentException) { throw new CliException(e.Message); }
            if (o.Json) Console.WriteLine(r.ToJson());
            else
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"train {r.Preset} ({r.Parameters:N0} params), batch {r.Batch}×{r.Sequence}, {r.Threads} threads: " +
                    $"{r.TokensPerSecond:F0} tok/s (median step {r.MedianSeconds:F3} s, best {r.BestSeconds:F3} s; " +
                    $"forward {r.ForwardSeconds:F3} s, backward {r.BackwardSeconds:F3} s, AdamW {r.OptimizerSeconds:F3} s), peak memory {r.PeakMemoryGB:F2} GB, " +
                    $"{r.AllocatedBytesPerStep} bytes allocated per step"));
            return 0;
        });
        return cmd;
    }
}
