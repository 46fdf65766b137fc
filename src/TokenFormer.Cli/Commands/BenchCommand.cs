using System.CommandLine;
using TokenFormer.Bench;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer bench …</c>: performance measurements whose figures go to docs/benchmarks.md.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure the speed of hot paths (results belong in docs/benchmarks.md).");
        bench.Subcommands.Add(CreateGemm());
        bench.Subcommands.Add(TrainBenchCommand.Create());
        bench.Subcommands.Add(KernelBenchCommand.Create());
        bench.Subcommands.Add(GenerateBenchCommand.Create());
        bench.Subcommands.Add(MemoryBenchCommand.Create());
        bench.Subcommands.Add(EvalBenchCommand.Create());
        bench.Subcommands.Add(AllreduceBenchCommand.Create());
        bench.Subcommands.Add(ScalingModelCommand.Create());
        bench.Subcommands.Add(QuantizationBenchCommand.Create());
        bench.Subcommands.Add(AdapterBenchCommand.Create());
        return bench;
    }

    private static Command CreateGemm()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object per measurement and line" };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions per point (median is reported; at least 5)", DefaultValueFactory = _ => 7 };
        var minTime = new Option<double>("--min-time") { Description = "Minimum seconds each repetition loops for", DefaultValueFactory = _ => 0.1 };
        var shapes = new Option<string?>("--shapes") { Description = "Comma-separated MxKxN list (default: the 9 standard shapes)" };
        var forms = new Option<string?>("--forms") { Description = "Comma-separated forms among nn, nt, tn (default: all three)" };
        var threadList = new Option<string?>("--thread-counts") { Description = "Comma-separated thread counts (default: 1 and all cores)" };
        var noBlas = new Option<bool>("--no-openblas") { Description = "Do not measure OpenBLAS even if installed" };
        var cmd = new Command("gemm",
            "GFLOP/s of C = A·B (nn), A·Bᵀ (nt) and Aᵀ·B (tn) at 1 thread and all threads, side by side with OpenBLAS's " +
            "cblas_sgemm (and sgemv for M = 1) when Debian's libopenblas0-pthread is installed.")
        {
            json, reps, minTime, shapes, forms, threadList, noBlas,
        };
        cmd.SetAction(parse =>
        {
            int r = parse.GetValue(reps);
            if (r < 5) throw new CliException($"--reps must be at least 5 (got {r})");
            var options = new GemmBenchOptions
            {
                Json = parse.GetValue(json),
                Repetitions = r,
                MinSecondsPerRepetition = parse.GetValue(minTime),
                UseOpenBlas = !parse.GetValue(noBlas),
                Shapes = parse.GetValue(shapes) is { } s ? ParseList(s, GemmShape.Parse, "--shapes") : GemmBenchOptions.DefaultShapes,
                Forms = parse.GetValue(forms) is { } f ? ParseList(f, ParseForm, "--forms") : ["nn", "nt", "tn"],
                Threads = parse.GetValue(threadList) is { } t ? ParseList(t, ParseThreads, "--thread-counts")
                    : Environment.ProcessorCount > 1 ? [1, Environment.ProcessorCount] : [1],
            };
            GemmBenchmark.Run(options, Console.Out);
            return 0;
        });
        return cmd;
    }

    private static string ParseForm(string f) =>
        f is "nn" or "nt" or "tn" ? f : throw new FormatException($"'{f}' is not a GEMM form (nn, nt or tn)");

    private static int ParseThreads(string t) =>
        int.TryParse(t, out int n) && n >= 1 ? n : throw new FormatException($"'{t}' is not a thread count >= 1");

    private static IReadOnlyList<T> ParseList<T>(string text, Func<string, T> parse, string option)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToArray();
        }
        catch (FormatException e)
        {
            throw new CliException($"{option}: {e.Message}");
        }
    }
}
