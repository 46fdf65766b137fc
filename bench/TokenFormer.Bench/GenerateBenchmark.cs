using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using TokenFormer.Core.Memory;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Inference;

namespace TokenFormer.Bench;

/// <summary>Settings of <c>tokenformer bench generate</c>.</summary>
public sealed record GenerateBenchOptions
{
    public string Preset { get; init; } = "150m";
    public int PrefillTokens { get; init; } = 512;
    public int PromptTokens { get; init; } = 32;
    public int NewTokens { get; init; } = 128;
    public int Reps { get; init; } = 5;
    public bool Json { get; init; }
    /// <summary>Weight storage of the benchmarked model (docs/quantization.md); the random weights are the same draws.</summary>
    public WeightFormat Dtype { get; init; } = WeightFormat.Float32;
    /// <summary>Sequences decoded together (1: the batch-1 figure; 2–8: the serving path's small batches).</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Another runtime timed side by side on the same model and workloads (<c>--runtime</c>), or null.</summary>
    public IGenerationPeer? Peer { get; init; }
    /// <summary>
    /// The same random weights in another storage (<c>--against</c>), built in the same process and timed right after ours
    /// in every repetition, so that the ratios of each repetition's pair see the same host; or null.
    /// </summary>
    public WeightFormat? Against { get; init; }
}

/// <summary>
/// Result of <c>bench generate</c>: medians over the repetitions. Bandwidth figures: bytes streamed per decoded token
/// (every weight that takes part in a product, the tied LM head included, plus the KV cache at the mean context) and
/// the read bandwidth measured on this machine by summing the model's own parameter arena (no extra memory).
/// </summary>
public sealed record GenerateBenchResult(string Preset, long Parameters, int Threads, int PrefillTokens, int PromptTokens, int NewTokens, int Reps,
    double PrefillTokensPerSecond, double PrefillSecondsMedian, double DecodeTokensPerSecond, double DecodeTokensPerSecondBest,
    double MillisecondsPerTokenMedian, double PeakRssMB, double BytesPerToken, double MeasuredReadGBps, int[] FirstTokens, double AllocatedBytesPerToken)
{
    /// <summary>Weight storage name (float32, bf16, int8, int4).</summary>
    public string Dtype { get; init; } = "float32";
    /// <summary>Sequences decoded per step; decode tokens/s count all of them.</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Resident memory (VmRSS) right after the model was built, before the runner's buffers, MB.</summary>
    public double ModelRssMB { get; init; }
    /// <summary>The part of it in huge pages (AnonHugePages; the weights when the system offers them, TokenFormer.Core.Memory.WeightArrays), MB.</summary>
    public double ModelHugePagesMB { get; init; }
    /// <summary>Bytes of weights the products read per step (a step reads every weight once).</summary>
    public double WeightBytes { get; init; }
    /// <summary>The other runtime's figures from the same run (<c>--runtime</c>), or null.</summary>
    public PeerResult? Peer { get; init; }
    /// <summary>The other storage's figures from the same run (<c>--against</c>), or null.</summary>
    public PeerResult? Against { get; init; }
    /// <summary>Fraction of the bandwidth limit the other runtime's decode reached.</summary>
    public double? PeerBandwidthFraction => Peer is null ? null : Peer.DecodeTokensPerSecond / BandwidthLimitTokensPerSecond;

    /// <summary>Decode tokens/s the measured bandwidth allows: a step reads <see cref="BytesPerToken"/> (per step: the weights once and every sequence's cache) and yields <see cref="Batch"/> tokens.</summary>
    public double BandwidthLimitTokensPerSecond => Batch * MeasuredReadGBps * 1e9 / BytesPerToken;
    /// <summary>Fraction of that limit reached.</summary>
    public double BandwidthFraction => DecodeTokensPerSecond / BandwidthLimitTokensPerSecond;

    public string ToJson() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"prefill_tok_s\":{PrefillTokensPerSecond:F1},\"decode_tok_s\":{DecodeTokensPerSecond:F2},\"peak_rss_mb\":{PeakRssMB:F1}," +
        $"\"dtype\":\"{Dtype}\",\"batch\":{Batch},\"model_rss_mb\":{ModelRssMB:F1},\"model_huge_pages_mb\":{ModelHugePagesMB:F1},\"weight_mb\":{WeightBytes / 1e6:F1}," +
        $"\"bench\":\"generate\",\"preset\":\"{Preset}\",\"params\":{Parameters},\"threads\":{Threads},\"prefill_tokens\":{PrefillTokens}," +
        $"\"prefill_s_median\":{PrefillSecondsMedian:F4},\"prompt_tokens\":{PromptTokens},\"new_tokens\":{NewTokens},\"reps\":{Reps}," +
        $"\"decode_tok_s_best\":{DecodeTokensPerSecondBest:F2},\"ms_per_token_median\":{MillisecondsPerTokenMedian:F3}," +
        $"\"mb_per_token\":{BytesPerToken / 1e6:F1},\"read_gbps\":{MeasuredReadGBps:F2},\"bandwidth_limit_tok_s\":{BandwidthLimitTokensPerSecond:F1}," +
        $"\"bandwidth_fraction\":{BandwidthFraction:F3},\"allocated_bytes_per_token\":{AllocatedBytesPerToken:F0},\"first_tokens\":[{string.Join(',', FirstTokens)}]") + PeerJson() + AgainstJson() + "}";

    private string AgainstJson() => Against is not { } a ? "" : string.Create(CultureInfo.InvariantCulture,
        $",\"against\":\"{a.Name}\",\"against_prefill_tok_s\":{a.PrefillTokensPerSecond:F1},\"against_decode_tok_s\":{a.DecodeTokensPerSecond:F2}," +
        $"\"against_ms_per_token_median\":{a.MillisecondsPerTokenMedian:F3},\"against_bandwidth_fraction\":{a.BandwidthFraction:F3}," +
        $"\"against_prefill_pair_ratio\":{a.PrefillPairRatio:F3},\"against_decode_pair_ratio\":{a.DecodePairRatio:F3}");

    private string PeerJson() => Peer is null ? "" : string.Create(CultureInfo.InvariantCulture, $",\"runtime\":\"{Peer.Name}\",\"runtime_prefill_tok_s\":{Peer.PrefillTokensPerSecond:F1},\"runtime_decode_tok_s\":{Peer.DecodeTokensPerSecond:F2}," +
            $"\"runtime_ms_per_token_median\":{Peer.MillisecondsPerTokenMedian:F3},\"runtime_bandwidth_fraction\":{PeerBandwidthFraction:F3}," +
            $"\"prefill_ratio\":{PrefillTokensPerSecond / Peer.PrefillTokensPerSecond:F3},\"decode_ratio\":{DecodeTokensPerSecond / Peer.DecodeTokensPerSecond:F3}," +
            $"\"prefill_pair_ratio\":{Peer.PrefillPairRatio:F3},\"decode_pair_ratio\":{Peer.DecodePairRatio:F3}," +
            $"\"runtime_same_first_tokens\":{(Peer.SameFirstTokens ? "true" : "false")}");
}

/// <summary>
/// Generation speed on a preset with random weights (official init), the workload of torch-anchors/bench_torch.py
/// prefill and decode: prefill tokens/s of one prompt (KV cache filled, logits of the last token only), and decode
/// tokens/s at batch 1 after a short prompt, greedy (tokens/s = new tokens / time of that many decode steps, the
/// prompt's prefill not counted), plus the process's peak resident memory (VmHWM).
/// </summary>
public static class GenerateBenchmark
{
    public static GenerateBenchResult Run(GenerateBenchOptions o, TextWriter log)
    {
        TokenFormerConfig cfg = TokenFormerPresets.Get(o.Preset);
        if (o.Against != null && o.Peer != null) throw new ArgumentException("--against and --runtime compare with one thing at a time; give one of them");
        TokenFormerModel model = BuildModel(cfg, o.Dtype);
        // return what building freed to the system, so the resident figures are the model's
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        double modelRss = CurrentRssMB(), modelHuge = WeightArrays.ResidentHugePageBytes() / (1024.0 * 1024);
        if (o.Batch < 1 || o.Batch > 8) throw new ArgumentException($"--batch must be 1 to 8 (got {o.Batch})");
        int maxLength = Math.Max(o.PrefillTokens, o.PromptTokens + o.NewTokens + 1);
        if (maxLength > cfg.MaxPositionEmbeddings)
            throw new ArgumentException($"{maxLength} positions exceed the preset's max_position_embeddings {cfg.MaxPositionEmbeddings}");
        var generator = new Generator(model, maxBatch: o.Batch, maxLength: maxLength);
        // the same weights in the other storage, built after ours was measured (peak RSS then counts both)
        TokenFormerModel? other = o.Against is { } againstFormat ? BuildModel(cfg, againstFormat) : null;
        Generator? otherGenerator = other == null ? null : new Generator(other, maxBatch: o.Batch, maxLength: maxLength);
        var otherPrefill = new List<double>();
        var otherRates = new List<double>(o.Reps);
        var otherPerToken = new List<double>(o.Reps * o.NewTokens);
        int[] otherFirst = [];
        var rng = new Random(2);
        IGenerationPeer? peer = o.Peer;
        if (peer != null)
        {
            if (o.Batch != 1 || o.Dtype != WeightFormat.Float32)
                throw new ArgumentException($"--runtime {peer.Name} compares float32 at batch 1 (got {WeightFormats.Name(o.Dtype)}, batch {o.Batch})");
            peer.Load(model, Parallelism.ThreadCount);
            if (!o.Json) log.WriteLine($"{peer.Name}: {peer.Description}");
        }
        var peerPrefill = new List<double>();
        var peerRates = new List<double>();
        var peerPerToken = new List<double>();
        int[] peerFirst = [];

        // prefill: one prompt of PrefillTokens rows in passes of up to MaxRows rows, logits of the last row only
        int[] prefill = new int[o.PrefillTokens];
        for (int i = 0; i < prefill.Length; i++) prefill[i] = rng.Next(model.Vocab);
        var prefillTimes = new List<double>();
        for (int rep = 0; rep < o.Reps + 1; rep++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Prefill(generator.Runner, prefill);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (rep > 0) prefillTimes.Add(s);
            if (!o.Json) log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prefill {o.PrefillTokens} tokens{(rep == 0 ? " (warm-up)" : "")}: {s:F3} s, {o.PrefillTokens / s:F0} tok/s"));
            if (otherGenerator != null)
            {
                t0 = Stopwatch.GetTimestamp();
                Prefill(otherGenerator.Runner, prefill);
                s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (rep > 0) otherPrefill.Add(s);
                if (!o.Json) log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {WeightFormats.Name(o.Against!.Value)} prefill {o.PrefillTokens} tokens{(rep == 0 ? " (warm-up)" : "")}: {s:F3} s, {o.PrefillTokens / s:F0} tok/s"));
            }
            if (peer == null) continue;
            // the other runtime right after ours in the same repetition, so load changes hit both alike
            t0 = Stopwatch.GetTimestamp();
            peer.Prefill(prefill);
            s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (rep > 0) peerPrefill.Add(s);
            if (!o.Json) log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {peer.Name} prefill {o.PrefillTokens} tokens{(rep == 0 ? " (warm-up)" : "")}: {s:F3} s, {o.PrefillTokens / s:F0} tok/s"));
        }

        // decode: prompt, then NewTokens greedy decode steps timed between the first token (from the prefill) and the last
        var prompts = new int[o.Batch][];
        for (int b = 0; b < o.Batch; b++)
        {
            prompts[b] = new int[o.PromptTokens];
            for (int i = 0; i < o.PromptTokens; i++) prompts[b][i] = rng.Next(model.Vocab);
        }
        var options = new SamplingOptions { MaxNewTokens = o.NewTokens + 1, Temperature = 0 };
        // sized up front: the lists grow inside the repetitions whose allocations are measured
        var rates = new List<double>(o.Reps);
        var perToken = new List<double>(o.Reps * o.NewTokens);
        int[] first = [];
        long[] stamps = new long[o.NewTokens + 1];
        double allocatedPerToken = 0;
        for (int rep = 0; rep < o.Reps + 1; rep++)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            double s = TimedDecode(generator, prompts, options, stamps, o.NewTokens, rep == 0, rates, perToken, ref first);
            if (rep > 0) allocatedPerToken = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)(o.NewTokens + 1);
            if (!o.Json) log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"decode {o.NewTokens} tokens × {o.Batch} sequences after a {o.PromptTokens}-token prompt{(rep == 0 ? " (warm-up)" : "")}: {s:F3} s, {o.Batch * o.NewTokens / s:F1} tok/s"));
            if (otherGenerator != null)
            {
                s = TimedDecode(otherGenerator, prompts, options, stamps, o.NewTokens, rep == 0, otherRates, otherPerToken, ref otherFirst);
                if (!o.Json) log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {WeightFormats.Name(o.Against!.Value)} decode{(rep == 0 ? " (warm-up)" : "")}: {s:F3} s, {o.Batch * o.NewTokens / s:F1} tok/s"));
            }
            if (peer == null) continue;
            int[] peerTokens = peer.Decode(prompts[0], o.NewTokens + 1, stamps);
            s = Stopwatch.GetElapsedTime(stamps[0], stamps[o.NewTokens]).TotalSeconds;
            if (rep == 0) peerFirst = peerTokens.Take(8).ToArray();
            else
            {
                peerRates.Add(o.NewTokens / s);
                for (int i = 1; i <= o.NewTokens; i++) peerPerToken.Add(Stopwatch.GetElapsedTime(stamps[i - 1], stamps[i]).TotalMilliseconds);
            }
            if (!o.Json) log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {peer.Name} decode {o.NewTokens} tokens{(rep == 0 ? " (warm-up)" : "")}: {s:F3} s, {o.NewTokens / s:F1} tok/s"));
        }
        double peak = PeakRssMB();

        (double weightBytes, double bytesPerToken, double gbps) = Traffic(model, o);
        double prefillMedian = Measure.Median(prefillTimes);
        return new GenerateBenchResult(o.Preset, model.Layout.Count, Parallelism.ThreadCount, o.PrefillTokens, o.PromptTokens, o.NewTokens, o.Reps,
            o.PrefillTokens / prefillMedian, prefillMedian, Measure.Median(rates), rates.Max(), Measure.Median(perToken), peak,
            bytesPerToken, gbps, first, allocatedPerToken)
        {
            Dtype = WeightFormats.Name(o.Dtype), Batch = o.Batch, ModelRssMB = modelRss, ModelHugePagesMB = modelHuge, WeightBytes = weightBytes,
            Peer = peer == null ? null : new PeerResult(peer.Name, peer.Description, o.PrefillTokens / Measure.Median(peerPrefill), Measure.Median(peerPrefill),
                Measure.Median(peerRates), Measure.Median(peerPerToken), peerFirst, peerFirst.SequenceEqual(first))
            {
                PrefillPairRatio = Measure.Median(prefillTimes.Select((t, i) => peerPrefill[i] / t).ToArray()),
                DecodePairRatio = Measure.Median(rates.Select((r, i) => r / peerRates[i]).ToArray()),
            },
            Against = other == null ? null : AgainstResult(other, o, prefillTimes, rates, first, otherPrefill, otherRates, otherPerToken, otherFirst),
        };
    }

    /// <summary>
    /// One decode of <paramref name="newTokens"/> steps after the prompts, stamping each step when sequence 0 reports its
    /// token (every live sequence reports in a step, sequence 0 first); outside the warm-up its tokens/s and per-step ms
    /// are recorded, in the warm-up its first tokens. Returns the seconds from the first token to the last.
    /// </summary>
    private static double TimedDecode(Generator generator, int[][] prompts, SamplingOptions options, long[] stamps, int newTokens, bool warmUp,
        List<double> rates, List<double> perToken, ref int[] firstTokens)
    {
        int count = 0;
        int[][] output = generator.Generate(prompts, options, (seq, _) => { if (seq == 0) stamps[count++] = Stopwatch.GetTimestamp(); return true; });
        double s = Stopwatch.GetElapsedTime(stamps[0], stamps[newTokens]).TotalSeconds;
        if (warmUp) firstTokens = output[0].Take(8).ToArray();
        else
        {
            rates.Add((double)prompts.Length * newTokens / s);
            for (int i = 1; i <= newTokens; i++) perToken.Add(Stopwatch.GetElapsedTime(stamps[i - 1], stamps[i]).TotalMilliseconds);
        }
        return s;
    }

    private static TokenFormerModel BuildModel(TokenFormerConfig cfg, WeightFormat format)
    {
        if (format != WeightFormat.Float32) return ReducedPrecisionWeights.RandomModel(cfg, format, 1234);
        var model = new TokenFormerModel(cfg);
        model.InitializeRandom(1234);
        return model;
    }

    /// <summary>
    /// Bytes of weights a step reads, bytes per decoded token (the weights once a step plus each sequence's KV cache at
    /// the mean context) and the read bandwidth of the model's own weight arrays (the same probe for every format: an
    /// integer sum), GB/s.
    /// </summary>
    private static (double WeightBytes, double BytesPerToken, double ReadGBps) Traffic(TokenFormerModel model, GenerateBenchOptions o)
    {
        TokenFormerConfig cfg = model.Config;
        long matmulParams = (long)cfg.NumLayers * 2 * cfg.HiddenSize * (3L * cfg.QkvSlotNum + cfg.ProjSlotNum + cfg.FfnSlotNum) + (long)model.Vocab * cfg.HiddenSize;
        double meanContext = o.PromptTokens + (o.NewTokens + 1) / 2.0;
        ReducedPrecisionWeights? reduced = model.ReducedWeights;
        double weightBytes = reduced == null ? 4.0 * matmulParams
            : reduced.Format == WeightFormat.BFloat16 ? 2.0 * matmulParams : reduced.MatrixBytes;
        double bytesPerToken = weightBytes + o.Batch * 2.0 * cfg.NumLayers * cfg.HiddenSize * 4 * meanContext;
        double gbps = reduced == null ? ReadBandwidth([model.Parameters.LongLength * 4], [model.Parameters], o.Reps)
            : reduced.Format == WeightFormat.BFloat16 ? ReadBandwidth([reduced.BFloat16Values!.LongLength * 2], [reduced.BFloat16Values], o.Reps)
            : ReadBandwidth([reduced.MatrixBytes - reduced.BlockScales!.LongLength * 4, reduced.BlockScales.LongLength * 4],
                [reduced.Int8Values ?? (Array)reduced.Int4Values!, reduced.BlockScales], o.Reps);
        return (weightBytes, bytesPerToken, gbps);
    }

    /// <summary>The <c>--against</c> storage's figures, its own bandwidth fraction, and the medians of ours ÷ its per repetition.</summary>
    private static PeerResult AgainstResult(TokenFormerModel other, GenerateBenchOptions o, List<double> prefillTimes, List<double> rates, int[] first,
        List<double> otherPrefill, List<double> otherRates, List<double> otherPerToken, int[] otherFirst)
    {
        string name = WeightFormats.Name(o.Against!.Value);
        (_, double bytesPerToken, double gbps) = Traffic(other, o);
        double decode = Measure.Median(otherRates), prefillSeconds = Measure.Median(otherPrefill);
        return new PeerResult(name, $"the same random weights stored as {name}", o.PrefillTokens / prefillSeconds, prefillSeconds,
            decode, Measure.Median(otherPerToken), otherFirst, otherFirst.SequenceEqual(first))
        {
            PrefillPairRatio = Measure.Median(prefillTimes.Select((t, i) => otherPrefill[i] / t).ToArray()),
            DecodePairRatio = Measure.Median(rates.Select((r, i) => r / otherRates[i]).ToArray()),
            BandwidthFraction = decode / (o.Batch * gbps * 1e9 / bytesPerToken),
        };
    }

    /// <summary>Runs <paramref name="tokens"/> as slot 0, positions 0…n−1, in passes of MaxRows rows; logits of the last row only.</summary>
    private static void Prefill(IncrementalRunner runner, int[] tokens)
    {
        int n = tokens.Length;
        int[] slots = new int[runner.MaxRows], positions = new int[runner.MaxRows];
        for (int start = 0; start < n; start += runner.MaxRows)
        {
            int rows = Math.Min(runner.MaxRows, n - start);
            for (int i = 0; i < rows; i++) positions[i] = start + i;
            bool last = start + rows == n;
            runner.Forward(tokens.AsSpan(start, rows), slots.AsSpan(0, rows), positions.AsSpan(0, rows), last ? [rows - 1] : []);
        }
    }

    /// <summary>Peak resident set (VmHWM from /proc/self/status) in MB, or the working-set peak where /proc is absent.</summary>
    public static double PeakRssMB()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        using var p = Process.GetCurrentProcess();
        return p.PeakWorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>Resident memory now (VmRSS), MB; 0 where /proc is absent.</summary>
    public static double CurrentRssMB()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        return 0;
    }

    /// <summary>Sums the bytes of some arrays as 32-bit integers, each thread a contiguous share of each array.</summary>
    private sealed unsafe class SumJob(long[] lengths, Array[] arrays, int parts) : IParallelWork
    {
        public readonly int[] Partial = new int[parts];
        public void Execute(int index)
        {
            int total = 0;
            for (int a = 0; a < arrays.Length; a++)
            {
                long ints = lengths[a] / 4;
                long chunk = (ints + parts - 1) / parts & ~63L;
                long start = Math.Min(ints, index * chunk);
                long end = index == parts - 1 ? ints : Math.Min(ints, start + chunk);
                var handle = System.Runtime.InteropServices.GCHandle.Alloc(arrays[a], System.Runtime.InteropServices.GCHandleType.Pinned);
                try
                {
                    int* p = (int*)handle.AddrOfPinnedObject() + start;
                    long n = end - start, i = 0;
                    Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                    for (; i + 64 <= n; i += 64)
                    {
                        s0 += Vector512.Load(p + i); s1 += Vector512.Load(p + i + 16);
                        s2 += Vector512.Load(p + i + 32); s3 += Vector512.Load(p + i + 48);
                    }
                    int sum = Vector512.Sum(s0 + s1 + s2 + s3);
                    for (; i < n; i++) sum += p[i];
                    total += sum;
                }
                finally { handle.Free(); }
            }
            Partial[index] = total;
        }
    }

    /// <summary>Read-only bandwidth (GB/s, median of reps) of a parallel sum over the bytes of <paramref name="arrays"/> (already resident).</summary>
    public static double ReadBandwidth(long[] byteLengths, Array[] arrays, int reps)
    {
        var job = new SumJob(byteLengths, arrays, Parallelism.ThreadCount);
        long bytes = byteLengths.Sum(b => b / 4 * 4);
        var rates = new List<double>();
        for (int r = 0; r < reps + 1; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Parallelism.For(Parallelism.ThreadCount, job);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (r > 0) rates.Add(bytes / s / 1e9);
        }
        return Measure.Median(rates);
    }
}
