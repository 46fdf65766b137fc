using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;

namespace TokenFormer.Bench;

/// <summary>Settings of <c>tokenformer bench kernels</c>.</summary>
public sealed record KernelBenchOptions
{
    public int Repetitions { get; init; } = 7;
    public double MinSecondsPerRepetition { get; init; } = 0.05;
    public bool Json { get; init; }
    /// <summary>Case names to run (null = all).</summary>
    public IReadOnlyList<string>? Cases { get; init; }
}

/// <summary>One variant of one case: median nanoseconds per call and the derived rates.</summary>
public sealed record KernelBenchResult(string Case, string Variant, int Threads, double Seconds, long Elements, long Bytes)
{
    public double GigaElementsPerSecond => Elements / Seconds / 1e9;
    public double GigabytesPerSecond => Bytes / Seconds / 1e9;

    public string ToJson() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"case\":\"{Case}\",\"variant\":\"{Variant}\",\"threads\":{Threads},\"us\":{Seconds * 1e6:F2}," +
        $"\"gelem_per_s\":{GigaElementsPerSecond:F3},\"gb_per_s\":{GigabytesPerSecond:F2}}}");
}

/// <summary>
/// Row-wise and element-wise kernels at each SIMD path, side by side with System.Numerics.Tensors
/// <see cref="TensorPrimitives"/> compositions or unfused equivalents. Variants of
/// a case alternate within every repetition so machine noise hits them alike; medians are reported with the ratio to
/// the first (default) variant. Bytes count one read of every input and one write of every output.
/// </summary>
public static class KernelBenchmark
{
    public static readonly string[] CaseNames =
        ["gelu", "gelu-backward", "cross-entropy", "pattention-l2-gelu", "exp-shifted", "weights-head", "weights-ffn-values", "weights-batch4", "weights-head-batch4"];

    /// <summary>A variant; <paramref name="Bytes"/> overrides the case's bytes (weight formats of different sizes).</summary>
    private sealed record Variant(string Name, Action Run, long? Bytes = null);

    private sealed record Case(string Name, string Shape, long Elements, long Bytes, Variant[] Variants);

    public static IReadOnlyList<KernelBenchResult> Run(KernelBenchOptions options, TextWriter output)
    {
        var results = new List<KernelBenchResult>();
        SimdPath saved = SimdPaths.Current;
        try
        {
            if (!options.Json)
                output.WriteLine($"# kernels: best SIMD path {SimdPaths.Best}, {Parallelism.ThreadCount} thread(s), " +
                                 $"median of {options.Repetitions} × ≥{options.MinSecondsPerRepetition:0.###} s");
            foreach (Case c in Cases())
            {
                if (options.Cases is { } only && !only.Contains(c.Name)) continue;
                var samples = c.Variants.Select(_ => new List<double>()).ToArray();
                foreach (Variant v in c.Variants) { SimdPaths.Current = SimdPaths.Best; v.Run(); }   // warm-up (JIT, pool)
                for (int rep = 0; rep < options.Repetitions; rep++)
                    for (int i = 0; i < c.Variants.Length; i++)
                    {
                        SimdPaths.Current = SimdPaths.Best;   // path variants lower it themselves; the others run at Best
                        samples[i].Add(Measure.SecondsPerCall(c.Variants[i].Run, options.MinSecondsPerRepetition));
                    }
                double baseline = Measure.Median(samples[0]);
                if (!options.Json) output.WriteLine($"{c.Name} {c.Shape}");
                for (int i = 0; i < c.Variants.Length; i++)
                {
                    var r = new KernelBenchResult(c.Name, c.Variants[i].Name, Parallelism.ThreadCount,
                        Measure.Median(samples[i]), c.Elements, c.Variants[i].Bytes ?? c.Bytes);
                    results.Add(r);
                    if (options.Json) output.WriteLine(r.ToJson());
                    else
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  {r.Variant,-28} {r.Seconds * 1e6,10:F1} µs  {r.GigaElementsPerSecond,7:F3} Gelem/s  " +
                            $"{r.GigabytesPerSecond,7:F2} GB/s  ×{baseline / r.Seconds,5:F2} vs {c.Variants[0].Name}"));
                }
            }
        }
        finally
        {
            SimdPaths.Current = saved;
        }
        return results;
    }

    /// <summary>Our kernel at every supported SIMD path, widest first.</summary>
    private static IEnumerable<Variant> Paths(string name, Action run)
    {
        for (SimdPath p = SimdPaths.Best; p >= SimdPath.Scalar; p--)
        {
            SimdPath path = p;
            yield return new Variant($"{name} {path}", () => { SimdPaths.Current = path; run(); });
        }
    }

    /// <summary>Runs <paramref name="run"/> on the best SIMD path with the given 2–8-row kernel settings, then restores the defaults.</summary>
    private static void WithBatchKernel(BatchKernelMode mode, bool int8Blocked512, Action run)
    {
        (BatchKernelMode savedMode, bool savedWide) = (ReducedProduct.BatchKernel, ReducedProduct.UseInt8Blocked512);
        SimdPaths.Current = SimdPaths.Best;
        ReducedProduct.BatchKernel = mode; ReducedProduct.UseInt8Blocked512 = int8Blocked512;
        try { run(); }
        finally { ReducedProduct.BatchKernel = savedMode; ReducedProduct.UseInt8Blocked512 = savedWide; }
    }

    /// <summary>y = exp(x − shift) with Vector512.Exp and a scalar tail; returns Σ y (the pattern attention rows use).</summary>
    private static float Vector512ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> y)
    {
        int i = 0;
        var acc = Vector512<float>.Zero;
        var vs = Vector512.Create(shift);
        for (; i <= x.Length - 16; i += 16)
        {
            var e = Vector512.Exp(Vector512.Create(x.Slice(i, 16)) - vs);
            e.CopyTo(y.Slice(i, 16));
            acc += e;
        }
        float sum = Vector512.Sum(acc);
        for (; i < x.Length; i++) sum += y[i] = MathF.Exp(x[i] - shift);
        return sum;
    }

    /// <summary>The tanh approximation of GeLU composed from TensorPrimitives (a different function; speed yardstick only).</summary>
    private static void TanhGelu(float[] x, float[] y)
    {
        // y = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
        TensorPrimitives.Multiply(x, x, y);
        TensorPrimitives.Multiply(y, 0.044715f, y);
        TensorPrimitives.Add(y, 1f, y);
        TensorPrimitives.Multiply(y, x, y);
        TensorPrimitives.Multiply(y, 0.7978845608f, y);
        TensorPrimitives.Tanh(y, y);
        TensorPrimitives.Multiply(y, 0.5f, y);
        TensorPrimitives.Add(y, 0.5f, y);
        TensorPrimitives.Multiply(y, x, y);
    }

    private static IEnumerable<Case> Cases()
    {
        var rng = new Random(1);
        float[] Fill(int n, float lo, float hi)
        {
            var a = new float[n];
            for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
            return a;
        }

        {
            const int n = 1 << 20;
            float[] x = Fill(n, -4, 4), y = new float[n];
            var yd = new double[n];
            yield return new Case("gelu", $"[{n}]", n, 8L * n,
                [.. Paths("Activations.Gelu", () => Activations.Gelu(x, y)),
                 new Variant("TensorPrimitives tanh-GeLU", () => TanhGelu(x, y)),
                 new Variant("double reference", () => ActivationsReference.Gelu(x, yd))]);
        }
        {
            const int n = 1 << 20;
            float[] x = Fill(n, -4, 4), dy = Fill(n, -1, 1), dx = new float[n];
            yield return new Case("gelu-backward", $"[{n}]", n, 12L * n,
                [.. Paths("Activations.GeluBackward", () => Activations.GeluBackward(x, dy, dx))]);
        }
        {
            const int rows = 64, vocab = 50304;
            float[] logits = Fill(rows * vocab, -8, 8), grad = new float[rows * vocab], rowLoss = new float[rows];
            var targets = new int[rows];
            for (int r = 0; r < rows; r++) targets[r] = rng.Next(vocab);
            yield return new Case("cross-entropy", $"[{rows}, {vocab}] forward+backward", (long)rows * vocab, 8L * rows * vocab,
                [.. Paths("CrossEntropy.ForwardBackward", () =>
                    CrossEntropy.ForwardBackward(logits, rows, vocab, targets, default, rowLoss, grad)),
                 new Variant("TensorPrimitives compose/row", () =>
                 {
                     for (int r = 0; r < rows; r++)
                     {
                         Span<float> g = grad.AsSpan(r * vocab, vocab);
                         TensorPrimitives.SoftMax(logits.AsSpan(r * vocab, vocab), g);
                         rowLoss[r] = -MathF.Log(g[targets[r]]);
                         g[targets[r]] -= 1f;
                         TensorPrimitives.Multiply(g, 1f / rows, g);
                     }
                 })]);
        }
        {
            // Causal attention rows of length 1 … 1024, one thread: y = exp(x − max(x)) and Σ y.
            const int rows = 1024;
            float[] x = Fill(rows * rows, -8, 8), y = new float[rows * rows];
            var sink = new float[1];
            yield return new Case("exp-shifted", $"causal rows 1…{rows}, 1 thread", (long)rows * (rows + 1) / 2, 8L * rows * (rows + 1) / 2,
                [.. Paths("SpanMath Max+ExpShifted", () =>
                 {
                     for (int r = 0; r < rows; r++)
                     {
                         ReadOnlySpan<float> row = x.AsSpan(r * rows, r + 1);
                         sink[0] += SpanMath.ExpShifted(row, SpanMath.Max(row), y.AsSpan(r * rows, r + 1));
                     }
                 }),
                 new Variant("Vector512.Exp loop", () =>
                 {
                     for (int r = 0; r < rows; r++)
                     {
                         ReadOnlySpan<float> row = x.AsSpan(r * rows, r + 1);
                         sink[0] += Vector512ExpShifted(row, TensorPrimitives.Max(row), y.AsSpan(r * rows, r + 1));
                     }
                 })]);
        }
        {
            // One thread, row by row, as inside the model's parallel loop: r = ‖a‖, z = a·τ/r, s = GeLU(z).
            const int rows = 256, n = 3072;
            float[] a = Fill(rows * n, -3, 3), pre = new float[rows * n], s = new float[rows * n];
            float tau = MathF.Sqrt(n);
            yield return new Case("pattention-l2-gelu", $"[{rows}, {n}] per row, 1 thread", (long)rows * n, 12L * rows * n,
                [.. Paths("Dot+ScaleThenGelu", () =>
                 {
                     a.CopyTo(pre, 0);
                     for (int r = 0; r < rows; r++)
                     {
                         Span<float> row = pre.AsSpan(r * n, n);
                         float norm = MathF.Sqrt(SpanMath.Dot(row, row));
                         Activations.ScaleThenGelu(row, tau / norm, s.AsSpan(r * n, n));
                     }
                 }),
                 new Variant("unfused Norm, Scale, Gelu", () =>
                 {
                     a.CopyTo(pre, 0);
                     for (int r = 0; r < rows; r++)
                     {
                         Span<float> row = pre.AsSpan(r * n, n);
                         Elementwise.Scale(row, tau / TensorPrimitives.Norm(row));
                         Activations.Gelu(row, s.AsSpan(r * n, n));
                     }
                 })]);
        }

        // the decode products over float32, bf16, int8 and int4 weights (docs/quantization.md): C[m, N] = A[m, K]·Wᵀ with W
        // [N, K] contiguous along K; bytes = the weights read once (the activations are in L1)
        foreach ((string name, int m, int k, int n) in new[] { ("weights-head", 1, 768, 50304), ("weights-ffn-values", 1, 3072, 768), ("weights-batch4", 4, 768, 3072), ("weights-head-batch4", 4, 768, 50304) })
        {
            float[] w = Fill(n * k, -0.05f, 0.05f), a = Fill(m * k, -1f, 1f), c = new float[m * n];
            var f32 = new TokenFormer.Model.Architecture.Float32Matrix(w, 0, n, k);
            var bits = new ushort[n * k];
            BFloat16.FromFloat(w, bits);
            var quants = new sbyte[n * k];
            int blocks = Int8Blocks.BlocksPerRow(k);
            var scales = new float[n * blocks];
            for (int j = 0; j < n; j++) Int8Blocks.QuantizeRow(w.AsSpan(j * k, k), quants.AsSpan(j * k, k), scales.AsSpan(j * blocks, blocks));
            var nibbles = new byte[n * Int4Blocks.BytesPerRow(k)];
            var scales4 = new float[n * blocks];
            for (int j = 0; j < n; j++)
                Int4Blocks.QuantizeRow(w.AsSpan(j * k, k), nibbles.AsSpan(j * Int4Blocks.BytesPerRow(k), Int4Blocks.BytesPerRow(k)), scales4.AsSpan(j * blocks, blocks));
            ReducedMatrix bf = ReducedMatrix.BFloat16(bits, 0, n, k), q8 = ReducedMatrix.Int8(quants, 0, scales, 0, n, k), q4 = ReducedMatrix.Int4(nibbles, 0, scales4, 0, n, k);
            var variants = new List<Variant> { new("float32 (GEMV / small batch)", () => f32.MultiplyTransposed(m, a, 0, k, c, 0, n, false)) };
            variants.AddRange(Paths("bf16", () => bf.MultiplyTransposed(m, a, 0, k, c, 0, n, false)).Select(v => v with { Bytes = bf.StoredBytes }));
            variants.AddRange(Paths("int8", () => q8.MultiplyTransposed(m, a, 0, k, c, 0, n, false)).Select(v => v with { Bytes = q8.StoredBytes }));
            variants.AddRange(Paths("int4", () => q4.MultiplyTransposed(m, a, 0, k, c, 0, n, false)).Select(v => v with { Bytes = q4.StoredBytes }));
            if (m > 1)
            {
                // the 2–8-row kernels: one row of W at a time (the first kernels) against the blocked ones; int8 blocked at 256 bits on AVX-512
                variants.Add(new Variant("bf16 row-by-row (best path)", () => WithBatchKernel(BatchKernelMode.RowByRow, true, () => bf.MultiplyTransposed(m, a, 0, k, c, 0, n, false)), bf.StoredBytes));
                variants.Add(new Variant("int8 row-by-row (best path)", () => WithBatchKernel(BatchKernelMode.RowByRow, true, () => q8.MultiplyTransposed(m, a, 0, k, c, 0, n, false)), q8.StoredBytes));
                if (SimdPaths.Best == SimdPath.Vector512)
                    variants.Add(new Variant("int8 blocked 2x4 Vector256 on AVX-512", () => WithBatchKernel(BatchKernelMode.Blocked, false, () => q8.MultiplyTransposed(m, a, 0, k, c, 0, n, false)), q8.StoredBytes));
            }
            if (m == 1 && SimdPaths.Best >= SimdPath.Vector256)
                variants.Add(new Variant("int8 integer dot (AVX2 maddubs)", () =>
                {
                    Int8DotMode saved = ReducedMatrix.Int8Dot;
                    ReducedMatrix.Int8Dot = Int8DotMode.Integer;
                    try { q8.MultiplyTransposed(m, a, 0, k, c, 0, n, false); }
                    finally { ReducedMatrix.Int8Dot = saved; }
                }, q8.StoredBytes));
            yield return new Case(name, $"{m}×{k}·({n}×{k})ᵀ", (long)m * k * n, 4L * n * k, variants.ToArray());
        }
    }
}