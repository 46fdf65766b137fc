using System.Globalization;
using System.Runtime.InteropServices;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;

namespace TokenFormer.Bench;

/// <summary>One GEMM shape to benchmark (C[M,N] from a K-long inner dimension).</summary>
public readonly record struct GemmShape(int M, int K, int N)
{
    public override string ToString() => $"{M}x{K}x{N}";

    public static GemmShape Parse(string text)
    {
        string[] parts = text.Split('x', 'X', '×');
        if (parts.Length != 3 || !int.TryParse(parts[0], out int m) || !int.TryParse(parts[1], out int k) ||
            !int.TryParse(parts[2], out int n) || m < 1 || k < 1 || n < 1)
            throw new FormatException($"shape '{text}' is not MxKxN with positive integers, e.g. 512x768x768");
        return new GemmShape(m, k, n);
    }
}

/// <summary>Settings of <c>tokenformer bench gemm</c>.</summary>
public sealed record GemmBenchOptions
{
    public static readonly GemmShape[] DefaultShapes =
    [
        new(512, 768, 768), new(512, 768, 3072), new(512, 3072, 768), new(2048, 768, 768), new(1024, 1024, 1024),
        new(1, 768, 768), new(1, 768, 3072), new(1, 3072, 768), new(1, 768, 50304),
    ];

    public IReadOnlyList<GemmShape> Shapes { get; init; } = DefaultShapes;
    public IReadOnlyList<string> Forms { get; init; } = ["nn", "nt", "tn"];
    public IReadOnlyList<int> Threads { get; init; } = [1, Environment.ProcessorCount];
    public int Repetitions { get; init; } = 7;
    public double MinSecondsPerRepetition { get; init; } = 0.1;
    public bool Json { get; init; }
    public bool UseOpenBlas { get; init; } = true;
}

/// <summary>One measured (shape, form, threads) point; GFLOP/s are medians over repetitions.</summary>
/// <remarks>
/// <see cref="Ratio"/> is the median of per-repetition ratios (ours and OpenBLAS measured back to back), which
/// cancels slow drifts in machine load better than the ratio of the two medians.
/// </remarks>
public sealed record GemmBenchResult(GemmShape Shape, string Form, int Threads, double Gflops, double? OpenBlasGflops,
    string? OpenBlasRoutine, double? Ratio)
{
    public string ToJson() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"m\":{Shape.M},\"k\":{Shape.K},\"n\":{Shape.N},\"form\":\"{Form}\",\"threads\":{Threads}," +
        $"\"gflops\":{Gflops:F2},\"openblas_gflops\":{(OpenBlasGflops is double o ? o.ToString("F2", CultureInfo.InvariantCulture) : "null")}," +
        $"\"ratio\":{(Ratio is double r ? r.ToString("F3", CultureInfo.InvariantCulture) : "null")}}}");
}

/// <summary>
/// Measures our GEMM against OpenBLAS (when installed) on the same shapes, alternating the two within each
/// repetition so that machine noise hits both alike. For M = 1 OpenBLAS gets the better of sgemm and sgemv.
/// </summary>
public static unsafe class GemmBenchmark
{
    /// <summary>OpenBLAS's idle workers spin for up to 2^28 cycles (~0.1 s) by default before sleeping.</summary>
    private const int OpenBlasIdleMs = 150;

    private const double WarmUpSeconds = 0.3;

    public static IReadOnlyList<GemmBenchResult> Run(GemmBenchOptions options, TextWriter output)
    {
        OpenBlas? blas = options.UseOpenBlas ? OpenBlas.TryLoad() : null;
        int savedThreads = Parallelism.ThreadCount;
        var results = new List<GemmBenchResult>();
        if (!options.Json)
        {
            output.WriteLine($"GEMM benchmark: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, ISA {Gemm.Isa}, " +
                             $"{Environment.ProcessorCount} cores, median of {options.Repetitions} repetitions " +
                             $"of >= {options.MinSecondsPerRepetition:0.###} s after warm-up");
            output.WriteLine(blas is null
                ? "OpenBLAS: not found (install Debian's libopenblas0-pthread to compare); its column says n/a"
                : $"OpenBLAS: {blas.Path}, core {blas.CoreName ?? "?"}{(blas.CoreTypeNote is null ? "" : " (" + blas.CoreTypeNote + ")")}");
            output.WriteLine();
            output.WriteLine("For M = 1, OpenBLAS's figure is the better of sgemm and sgemv (* marks sgemv). The ratio is the");
            output.WriteLine("median of per-repetition ratios (ours and OpenBLAS timed back to back in each repetition).");
            output.WriteLine();
            output.WriteLine($"{"M",6} {"K",6} {"N",6} {"form",4} {"thr",3} {"ours GF/s",10} {"OpenBLAS",10} {"ratio",6}");
        }
        HostSteal? stealAtStart = HostSteal.Read();
        try
        {
            foreach (int threads in options.Threads)
            foreach (GemmShape shape in options.Shapes)
            foreach (string form in options.Forms)
            {
                GemmBenchResult r = MeasureOne(shape, form, threads, options, blas);
                results.Add(r);
                output.WriteLine(options.Json ? r.ToJson() : FormatRow(r));
                output.Flush();
            }
        }
        finally
        {
            Parallelism.SetThreadCount(savedThreads);
        }
        if (!options.Json && HostSteal.PercentBetween(stealAtStart, HostSteal.Read()) is double stolen)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"\nCPU time stolen by the host during the run: {stolen:F1} % (/proc/stat steal; other guests' load, which moves both columns)"));
        return results;
    }

    public static string FormatRow(GemmBenchResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Shape.M,6} {r.Shape.K,6} {r.Shape.N,6} {r.Form,4} {r.Threads,3} {r.Gflops,10:F1} " +
        $"{(r.OpenBlasGflops is double o ? o.ToString("F1", CultureInfo.InvariantCulture) + (r.OpenBlasRoutine == "sgemv" ? "*" : " ") : "n/a "),10} " +
        $"{(r.Ratio is double x ? x.ToString("F2", CultureInfo.InvariantCulture) : "n/a"),6}");

    private static GemmBenchResult MeasureOne(GemmShape s, string form, int threads, GemmBenchOptions o, OpenBlas? blas)
    {
        Parallelism.SetThreadCount(threads);
        blas?.SetThreads(threads);
        GemmForm f = form switch { "nn" => GemmForm.NN, "nt" => GemmForm.NT, "tn" => GemmForm.TN,
            _ => throw new ArgumentException($"unknown GEMM form '{form}' (expected nn, nt or tn)") };
        long aLen = (long)s.M * s.K, bLen = (long)s.K * s.N, cLen = (long)s.M * s.N;
        float* a = Alloc(aLen, 1), b = Alloc(bLen, 2), c = Alloc(cLen, 3);
        try
        {
            double flops = 2.0 * s.M * s.N * s.K;
            var ours = new List<double>();
            var theirs = new List<double>();
            var theirsGemv = new List<double>();
            int lda = f == GemmForm.TN ? s.M : s.K, ldb = f == GemmForm.NT ? s.K : s.N;
            Action runOurs = () => Gemm.Compute(f, s.M, s.K, s.N, new ReadOnlySpan<float>(a, (int)aLen), lda,
                new ReadOnlySpan<float>(b, (int)bLen), ldb, new Span<float>(c, (int)cLen), s.N);
            Action? runBlas = blas is null ? null : () => blas.Sgemm(form, s.M, s.K, s.N, a, b, c);
            Action? runGemv = blas is null || s.M != 1 ? null : () => blas.Sgemv(form, s.K, s.N, a, b, c);
            // Warm-up long enough for the JIT's tiered recompilation of the call path (a background thread) to be
            // over before timing starts; otherwise it competes with the first shape's threads.
            Measure.SecondsPerCall(runOurs, Math.Max(WarmUpSeconds, o.MinSecondsPerRepetition));
            for (int w = 0; w < 2; w++) { runBlas?.Invoke(); runGemv?.Invoke(); }
            for (int rep = 0; rep < o.Repetitions; rep++)
            {
                ours.Add(flops / Measure.SecondsPerCall(runOurs, o.MinSecondsPerRepetition) / 1e9);
                // Let each library's spinning worker threads go idle before the other one runs.
                Thread.Sleep(10);
                if (runBlas != null) { theirs.Add(flops / Measure.SecondsPerCall(runBlas, o.MinSecondsPerRepetition) / 1e9); Thread.Sleep(OpenBlasIdleMs); }
                if (runGemv != null) { theirsGemv.Add(flops / Measure.SecondsPerCall(runGemv, o.MinSecondsPerRepetition) / 1e9); Thread.Sleep(OpenBlasIdleMs); }
            }
            double? blasBest = null;
            string? routine = null;
            List<double>? reference = null;
            if (theirs.Count > 0) { blasBest = Measure.Median(theirs); routine = "sgemm"; reference = theirs; }
            if (theirsGemv.Count > 0 && Measure.Median(theirsGemv) > blasBest)
            {
                blasBest = Measure.Median(theirsGemv); routine = "sgemv"; reference = theirsGemv;
            }
            double? ratio = reference is null ? null : Measure.Median(ours.Zip(reference, (x, y) => x / y).ToList());
            return new GemmBenchResult(s, form, threads, Measure.Median(ours), blasBest, routine, ratio);
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    private static float* Alloc(long count, int seed)
    {
        float* p = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        var rng = new Random(seed);
        for (long i = 0; i < count; i++) p[i] = (float)(rng.NextDouble() * 2 - 1);
        return p;
    }
}
