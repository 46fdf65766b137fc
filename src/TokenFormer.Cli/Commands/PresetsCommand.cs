using System.CommandLine;
using System.Globalization;
using TokenFormer.Bench;
using TokenFormer.Model;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer presets</c>: the named model sizes with their parameter counts; also builds <c>bench train</c>,
/// which takes one of these presets.
/// </summary>
public static class PresetsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object per preset" };
        var cmd = new Command("presets", "List the model presets (official sizes and small CPU presets) with parameter counts.") { json };
        cmd.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            if (!asJson)
                Console.WriteLine($"{"name",-7} {"params",15} {"layers",6} {"hidden",6} {"heads",5} {"qkv",5} {"proj",5} {"ffn",6} {"vocab",6}  description");
            foreach (TokenFormerPresets.Preset p in TokenFormerPresets.All)
            {
                TokenFormerConfig c = p.Create();
                long count = c.ParameterCount();
                if (asJson)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"name\":\"{p.Name}\",\"params\":{count},\"num_layers\":{c.NumLayers},\"hidden_size\":{c.HiddenSize},\"num_attention_heads\":{c.NumAttentionHeads},\"qkv_slot_num\":{c.QkvSlotNum},\"proj_slot_num\":{c.ProjSlotNum},\"ffn_slot_num\":{c.FfnSlotNum},\"vocab_size\":{c.Vocab}}}"));
                else
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{p.Name,-7} {count,15:N0} {c.NumLayers,6} {c.HiddenSize,6} {c.NumAttentionHeads,5} {c.QkvSlotNum,5} {c.ProjSlotNum,5} {c.FfnSlotNum,6} {c.Vocab,6}  {p.Description}"));
            }
            return 0;
        });
        return cmd;
    }

    /// <summary><c>tokenformer bench train</c>: tokens/s of forward + backward + AdamW on a preset, and peak memory.</summary>
    public static Command CreateBenchTrain()
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
