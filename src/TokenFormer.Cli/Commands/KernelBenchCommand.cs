using System.CommandLine;
using TokenFormer.Bench;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer bench kernels</c>: row-wise and element-wise kernels per SIMD path vs TensorPrimitives.</summary>
public static class KernelBenchCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object per measurement and line" };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions per variant (median is reported; at least 3)", DefaultValueFactory = _ => 7 };
        var minTime = new Option<double>("--min-time") { Description = "Minimum seconds each repetition loops for", DefaultValueFactory = _ => 0.05 };
        var cases = new Option<string?>("--cases") { Description = $"Comma-separated cases among {string.Join(", ", KernelBenchmark.CaseNames)} (default: all)" };
        var cmd = new Command("kernels",
            "Throughput of GeLU, softmax, cross-entropy, L2 norms and the Pattention l2_norm_gelu row at each SIMD path, " +
            "side by side with System.Numerics.Tensors compositions and the model's normaliser.")
        {
            json, reps, minTime, cases,
        };
        cmd.SetAction(parse =>
        {
            int r = parse.GetValue(reps);
            if (r < 3) throw new CliException($"--reps must be at least 3 (got {r})");
            double t = parse.GetValue(minTime);
            if (!(t > 0)) throw new CliException($"--min-time must be positive (got {t})");
            string[]? only = parse.GetValue(cases)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (string c in only ?? [])
                if (!KernelBenchmark.CaseNames.Contains(c))
                    throw new CliException($"--cases: '{c}' is not one of {string.Join(", ", KernelBenchmark.CaseNames)}");
            KernelBenchmark.Run(new KernelBenchOptions
            {
                Json = parse.GetValue(json),
                Repetitions = r,
                MinSecondsPerRepetition = t,
                Cases = only,
            }, Console.Out);
            return 0;
        });
        return cmd;
    }
}
