using System.Diagnostics;
using System.Globalization;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Model.Optimizer;

namespace TokenFormer.Bench;

/// <summary>Settings of <c>tokenformer bench train</c>.</summary>
public sealed record TrainBenchOptions
{
    public string Preset { get; init; } = "tiny";
    public int Batch { get; init; } = 8;
    public int Sequence { get; init; } = 256;
    public int Steps { get; init; } = 8;
    public int Warmup { get; init; } = 2;
    public bool Json { get; init; }
}

/// <summary>Result of one training-step benchmark: medians over the timed steps.</summary>
public sealed record TrainBenchResult(string Preset, long Parameters, int Batch, int Sequence, int Threads,
    double MedianSeconds, double BestSeconds, double TokensPerSecond, double PeakMemoryGB, double ForwardSeconds,
    double BackwardSeconds, double OptimizerSeconds, float FirstLoss, float LastLoss, long AllocatedBytesPerStep, int Gen2Collections)
{
    public string ToJson() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"bench\":\"train\",\"preset\":\"{Preset}\",\"params\":{Parameters},\"batch\":{Batch},\"seq\":{Sequence},\"threads\":{Threads}," +
        $"\"step_s_median\":{MedianSeconds:F4},\"step_s_best\":{BestSeconds:F4},\"tokens_per_s\":{TokensPerSecond:F1}," +
        $"\"forward_s\":{ForwardSeconds:F4},\"backward_s\":{BackwardSeconds:F4},\"adamw_s\":{OptimizerSeconds:F4}," +
        $"\"peak_rss_gb\":{PeakMemoryGB:F3},\"loss_first\":{FirstLoss:F4},\"loss_last\":{LastLoss:F4}," +
        $"\"allocated_bytes_per_step\":{AllocatedBytesPerStep},\"gen2_collections\":{Gen2Collections}}}");
}

/// <summary>
/// Tokens/s of a full training step (forward + backward + AdamW) on random tokens with the official init, and the
/// process's peak resident memory. The same workload as torch-anchors/bench_torch.py train.
/// </summary>
public static class TrainBenchmark
{
    public static TrainBenchResult Run(TrainBenchOptions o, TextWriter log)
    {
        TokenFormerConfig cfg = TokenFormerPresets.Get(o.Preset);
        var model = new TokenFormerModel(cfg);
        model.InitializeRandom(1234);
        var runner = new ModelRunner(model, o.Batch, o.Sequence, training: true);
        var adam = new AdamW(model.Layout);
        int n = o.Batch * o.Sequence;
        var rng = new Random(0);
        var tokens = new int[n];
        var targets = new int[n];
        for (int i = 0; i < n; i++) { tokens[i] = rng.Next(model.Vocab); targets[i] = rng.Next(model.Vocab); }

        var times = new List<double>();
        double fwd = 0, bwd = 0, opt = 0;
        float first = float.NaN, last = float.NaN;
        long allocated = 0;
        int gen2 = 0;
        for (int step = 0; step < o.Warmup + o.Steps; step++)
        {
            if (step == o.Warmup)
            {
                allocated = GC.GetTotalAllocatedBytes(precise: true);
                gen2 = GC.CollectionCount(2);
            }
            long t0 = Stopwatch.GetTimestamp();
            float loss = runner.Forward(tokens, targets, default, computeGradient: true);
            long t1 = Stopwatch.GetTimestamp();
            runner.Backward();
            long t2 = Stopwatch.GetTimestamp();
            adam.Update(model.Parameters, runner.Gradients!, 6e-4f);
            long t3 = Stopwatch.GetTimestamp();
            if (step == 0) first = loss;
            last = loss;
            if (step >= o.Warmup)
            {
                times.Add(Stopwatch.GetElapsedTime(t0, t3).TotalSeconds);
                fwd += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
                bwd += Stopwatch.GetElapsedTime(t1, t2).TotalSeconds;
                opt += Stopwatch.GetElapsedTime(t2, t3).TotalSeconds;
            }
            if (!o.Json)
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {step}{(step < o.Warmup ? " (warm-up)" : "")}: loss {loss:F4}, {Stopwatch.GetElapsedTime(t0, t3).TotalSeconds:F3} s"));
        }
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        gen2 = GC.CollectionCount(2) - gen2;
        double median = Measure.Median(times);
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        int k = Math.Max(1, o.Steps);
        return new TrainBenchResult(o.Preset, model.Parameters.LongLength, o.Batch, o.Sequence, Parallelism.ThreadCount,
            median, times.Count > 0 ? times.Min() : double.NaN, n / median, proc.PeakWorkingSet64 / 1e9,
            fwd / k, bwd / k, opt / k, first, last, allocated / k, gen2);
    }
}
