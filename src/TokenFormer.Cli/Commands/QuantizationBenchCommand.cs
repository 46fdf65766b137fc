using System.CommandLine;
using System.Globalization;
using TokenFormer.Bench;
using TokenFormer.Model;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer bench quantization</c>: logit error and loss change of bf16 and int8 against float32.</summary>
public static class QuantizationBenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset with the official initialisation (seed 1234)", DefaultValueFactory = _ => "150m" };
        var model = new Option<string?>("--model") { Description = "A float32 model directory instead of a preset" };
        var seq = new Option<int>("--seq") { Description = "Tokens per window", DefaultValueFactory = _ => 128 };
        var windows = new Option<int>("--windows") { Description = "Windows of random token ids", DefaultValueFactory = _ => 4 };
        var json = new Option<bool>("--json") { Description = "One JSON object per format" };
        var cmd = new Command("quantization",
            "Convert a model to bf16 and int8 in memory and compare each forward with float32 on the same random token windows: " +
            "relative RMS logit error, largest logit error, top-1 agreement, loss on next-token targets. See docs/quantization.md.")
        { preset, model, seq, windows, json };
        cmd.SetAction(parse =>
        {
            int t = parse.GetValue(seq), w = parse.GetValue(windows);
            if (t < 1 || w < 1) throw new CliException($"--seq and --windows must be at least 1 (got {t}, {w})");
            IReadOnlyList<QuantizationError> results;
            try { results = QuantizationErrorBenchmark.Run(parse.GetValue(preset), parse.GetValue(model), t, w, seed: 3); }
            catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException or ArgumentException) { throw new CliException(e.Message); }
            foreach (QuantizationError r in results)
                Console.WriteLine(parse.GetValue(json) ? r.ToJson() : string.Create(CultureInfo.InvariantCulture,
                    $"{r.Dtype,-5} relative RMS logit error {r.RelativeRmsLogitError:P4}, largest {r.MaxAbsLogitError:E2} (largest |logit| {r.MaxAbsLogit:F3}), " +
                    $"top-1 agreement {r.Top1Agreement:P2}, loss {r.Float32Loss:F6} → {r.Loss:F6} (perplexity {r.PerplexityChange:+0.0000%;-0.0000%})"));
            return 0;
        });
        return cmd;
    }
}
