using System.Globalization;
using System.Text;
using TokenFormer.Core.Memory;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Inference;

namespace TokenFormer.Bench;

/// <summary>Settings of <c>tokenformer bench memory</c>.</summary>
public sealed record MemoryBenchOptions
{
    /// <summary>A model directory to load (else <see cref="Preset"/> with random weights in <see cref="Dtype"/>).</summary>
    public string? ModelDirectory { get; init; }
    public string Preset { get; init; } = "150m";
    public WeightFormat Dtype { get; init; } = WeightFormat.Float32;
    public int PromptTokens { get; init; } = 32;
    public int NewTokens { get; init; } = 64;
    /// <summary>KV cache length per sequence (0: prompt + new tokens).</summary>
    public int MaxLength { get; init; }
}

/// <summary>
/// Where the resident memory of a generating process goes (docs/quantization.md, Resident memory): VmRSS and its
/// anonymous/file parts from /proc/self/status at each stage — before the model, after loading it, after building
/// the generator (KV cache, activation buffers), after generating — next to the bytes of the weights and the GC's own
/// view (committed, heap, fragmentation). Linux only (zeros elsewhere).
/// </summary>
public static class MemoryBenchmark
{
    /// <summary>VmRSS, RssAnon, RssFile and VmHWM of this process, and the part of it in huge pages (AnonHugePages), MiB.</summary>
    public readonly record struct Resident(double Rss, double Anon, double File, double Peak, double Huge)
    {
        public static Resident Now()
        {
            double rss = 0, anon = 0, file = 0, peak = 0;
            try
            {
                foreach (string line in System.IO.File.ReadLines("/proc/self/status"))
                {
                    double Kb() => long.Parse(line[(line.IndexOf(':') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb();
                    else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kb();
                    else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kb();
                    else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kb();
                }
            }
            catch (IOException) { }
            return new Resident(rss, anon, file, peak, WeightArrays.ResidentHugePageBytes() / (double)(1 << 20));
        }

        public string Json => string.Create(CultureInfo.InvariantCulture, $"{{\"rss\":{Rss:F1},\"anon\":{Anon:F1},\"file\":{File:F1},\"peak\":{Peak:F1},\"huge\":{Huge:F1}}}");
    }

    /// <summary>Runs the stages and returns one JSON object (MiB throughout).</summary>
    public static string Run(MemoryBenchOptions o, TextWriter log)
    {
        Resident start = Resident.Now();
        TokenFormerModel model;
        if (o.ModelDirectory != null) model = TokenFormer.Model.ModelDirectory.Load(o.ModelDirectory);
        else if (o.Dtype == WeightFormat.Float32)
        {
            model = new TokenFormerModel(TokenFormerPresets.Get(o.Preset));
            model.InitializeRandom(1234);
        }
        else model = ReducedPrecisionWeights.RandomModel(TokenFormerPresets.Get(o.Preset), o.Dtype, 1234);
        Resident loadedBeforeGc = Resident.Now();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Resident loaded = Resident.Now();
        ReducedPrecisionWeights? reduced = model.ReducedWeights;
        long weightBytes = reduced == null ? 4L * model.Parameters.LongLength : reduced.MatrixBytes + 4L * 2 * model.Config.HiddenSize;
        double weights = weightBytes / (double)(1 << 20);

        int maxLength = o.MaxLength > 0 ? o.MaxLength : o.PromptTokens + o.NewTokens;
        var generator = new Generator(model, maxBatch: 1, maxLength: maxLength);
        Resident built = Resident.Now();
        var rng = new Random(2);
        int[] prompt = new int[o.PromptTokens];
        for (int i = 0; i < prompt.Length; i++) prompt[i] = rng.Next(model.Vocab);
        generator.Generate([prompt], new SamplingOptions { MaxNewTokens = o.NewTokens, Temperature = 0 });
        Resident generated = Resident.Now();
        GCMemoryInfo gc = GC.GetGCMemoryInfo();
        TokenFormerConfig cfg = model.Config;
        double kvAllocated = generator.Runner.Cache.Bytes / (double)(1 << 20);
        double kvUsed = 2.0 * cfg.NumLayers * cfg.HiddenSize * 4 * (o.PromptTokens + o.NewTokens) / (1 << 20);
        var json = new StringBuilder();
        json.Append(string.Create(CultureInfo.InvariantCulture,
            $"{{\"bench\":\"memory\",\"model\":\"{(o.ModelDirectory ?? o.Preset).Replace("\\", "/", StringComparison.Ordinal)}\",\"dtype\":\"{WeightFormats.Name(reduced?.Format ?? WeightFormat.Float32)}\"," +
            $"\"weights_bytes\":{weightBytes},\"weights_mib\":{weights:F1},\"kv_allocated_mib\":{kvAllocated:F1},\"kv_written_mib\":{kvUsed:F1},\"prompt_tokens\":{o.PromptTokens},\"new_tokens\":{o.NewTokens},\"max_length\":{maxLength}," +
            $"\"start\":{start.Json},\"loaded_before_gc\":{loadedBeforeGc.Json},\"loaded\":{loaded.Json},\"generator_built\":{built.Json},\"generated\":{generated.Json}," +
            $"\"gc_committed_mib\":{gc.TotalCommittedBytes / (double)(1 << 20):F1},\"gc_heap_mib\":{gc.HeapSizeBytes / (double)(1 << 20):F1},\"gc_fragmented_mib\":{gc.FragmentedBytes / (double)(1 << 20):F1}," +
            $"\"gc_gen0_budget_mib\":{gc.GenerationInfo[0].SizeAfterBytes / (double)(1 << 20):F1}}}"));
        GC.KeepAlive(generator);
        return json.ToString();
    }
}
