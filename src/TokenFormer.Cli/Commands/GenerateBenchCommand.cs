using System.CommandLine;
using System.Globalization;
using TokenFormer.Bench;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer bench generate</c>: prefill and batch-1 decode speed of KV-cached generation, and peak memory.</summary>
public static class GenerateBenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset (random weights; see `tokenformer presets`)", DefaultValueFactory = _ => "150m" };
        var prefill = new Option<int>("--prefill-tokens") { Description = "Prompt length of the prefill measurement", DefaultValueFactory = _ => 512 };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prompt length before decoding", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Greedy decode steps timed", DefaultValueFactory = _ => 128 };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions (medians are reported; at least 5)", DefaultValueFactory = _ => 5 };
        var dtype = new Option<string>("--dtype") { Description = "Weight storage: float32, bf16, int8 or int4 (docs/quantization.md); the same random weights", DefaultValueFactory = _ => "float32" };
        var batch = new Option<int>("--batch") { Description = "Sequences decoded together (1–8); decode tok/s counts all of them", DefaultValueFactory = _ => 1 };
        var runtime = new Option<string>("--runtime")
        {
            Description = "ours, or ours side by side with another runtime on the same workloads: onnxruntime (float32, batch 1; " +
                "run through bench/TokenFormer.Bench.OnnxRuntime, which holds the ONNX Runtime package; docs/onnx.md)",
            DefaultValueFactory = _ => "ours",
        };
        var against = new Option<string?>("--against")
        {
            Description = "Also time the same random weights stored as another dtype (e.g. --dtype bf16 --against float32), built in the same " +
                "process and run right after ours in every repetition; prints the medians of the repetitions' ratios, which a drifting " +
                "host moves least (peak RSS then counts both models)",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {\"prefill_tok_s\",\"decode_tok_s\",\"peak_rss_mb\",…}" };
        var cmd = new Command("generate",
            "Prefill tokens/s of a 512-token prompt and decode tokens/s at batch 1 (32-token prompt, 128 new tokens, greedy) on a preset " +
            "with random weights, peak memory, and the fraction of the memory-bandwidth limit reached. Compare with " +
            "shared/reference/torch-anchors/bench_torch.py prefill / decode on the same machine.")
        {
            preset, prefill, prompt, newTokens, reps, dtype, batch, json, runtime, against,
        };
        cmd.SetAction(parse =>
        {
            var o = new GenerateBenchOptions
            {
                Preset = parse.GetValue(preset)!,
                PrefillTokens = parse.GetValue(prefill),
                PromptTokens = parse.GetValue(prompt),
                NewTokens = parse.GetValue(newTokens),
                Reps = parse.GetValue(reps),
                Json = parse.GetValue(json),
                Dtype = WeightFormats.TryParse(parse.GetValue(dtype), out WeightFormat f) ? f
                    : throw new CliException($"--dtype '{parse.GetValue(dtype)}' is not one of {string.Join(", ", WeightFormats.Names)}"),
                Batch = parse.GetValue(batch),
            };
            if (o.Batch < 1 || o.Batch > 8) throw new CliException($"--batch must be 1 to 8 (got {o.Batch})");
            if (o.PrefillTokens < 1 || o.PromptTokens < 1 || o.NewTokens < 1)
                throw new CliException($"--prefill-tokens, --prompt-tokens and --new-tokens must be at least 1 (got {o.PrefillTokens}, {o.PromptTokens}, {o.NewTokens})");
            if (o.Reps < 5) throw new CliException($"--reps must be at least 5 (got {o.Reps})");
            if (parse.GetValue(against) is { } againstName)
                o = o with
                {
                    Against = WeightFormats.TryParse(againstName, out WeightFormat af) ? af
                        : throw new CliException($"--against '{againstName}' is not one of {string.Join(", ", WeightFormats.Names)}"),
                };
            string runtimeName = parse.GetValue(runtime)!;
            IGenerationPeer? peer = null;
            if (runtimeName != "ours")
            {
                peer = GenerationPeers.Create(runtimeName) ?? throw new CliException(runtimeName == "onnxruntime"
                    ? "--runtime onnxruntime: ONNX Runtime is not part of the tokenformer tool (its package stays out of the tool); run this command " +
                      "through its bench project: dotnet run -c Release --project bench/TokenFormer.Bench.OnnxRuntime -- bench generate --runtime onnxruntime …"
                    : $"--runtime '{runtimeName}' is not a runtime; use ours or onnxruntime");
                o = o with { Peer = peer };
            }
            GenerateBenchResult r;
            try { r = GenerateBenchmark.Run(o, Console.Out); }
            catch (Exception e) when (e is TokenFormerConfigException or ArgumentException) { throw new CliException(e.Message); }
            finally { peer?.Dispose(); }
            if (o.Json) Console.WriteLine(r.ToJson());
            else
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"generate {r.Preset} {r.Dtype} ({r.Parameters:N0} params), {r.Threads} threads: prefill {r.PrefillTokens} tokens {r.PrefillTokensPerSecond:F0} tok/s " +
                    $"(median {r.PrefillSecondsMedian:F3} s); decode batch {r.Batch} {r.DecodeTokensPerSecond:F1} tok/s (best {r.DecodeTokensPerSecondBest:F1}, " +
                    $"median {r.MillisecondsPerTokenMedian:F2} ms/token); {r.BytesPerToken / 1e6:F1} MB read per token at {r.MeasuredReadGBps:F1} GB/s measured " +
                    $"→ limit {r.BandwidthLimitTokensPerSecond:F1} tok/s, {100 * r.BandwidthFraction:F0}% reached; peak RSS {r.PeakRssMB:F0} MB (model built: {r.ModelRssMB:F0} MB, {r.ModelHugePagesMB:F0} MB of it in huge pages); " +
                    $"first tokens [{string.Join(", ", r.FirstTokens)}]"));
            if (!o.Json && r.Peer is { } p)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{p.Name} in the same run: prefill {p.PrefillTokensPerSecond:F0} tok/s (median {p.PrefillSecondsMedian:F3} s); decode {p.DecodeTokensPerSecond:F1} tok/s " +
                    $"(median {p.MillisecondsPerTokenMedian:F2} ms/token), {100 * r.PeerBandwidthFraction:F0}% of the bandwidth limit; ours/{p.Name}: prefill " +
                    $"{r.PrefillTokensPerSecond / p.PrefillTokensPerSecond:F2}×, decode {r.DecodeTokensPerSecond / p.DecodeTokensPerSecond:F2}× (medians of the " +
                    $"repetitions' pairs: prefill {p.PrefillPairRatio:F2}×, decode {p.DecodePairRatio:F2}×); first tokens " +
                    $"[{string.Join(", ", p.FirstTokens)}] ({(p.SameFirstTokens ? "the same as ours" : "DIFFERENT from ours")})"));
            if (!o.Json && r.Against is { } a)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{a.Name} in the same run: prefill {a.PrefillTokensPerSecond:F0} tok/s; decode {a.DecodeTokensPerSecond:F1} tok/s " +
                    $"(median {a.MillisecondsPerTokenMedian:F2} ms/token), {100 * a.BandwidthFraction:F0}% of its own bandwidth limit; {r.Dtype}/{a.Name}, " +
                    $"medians of the repetitions' pairs: prefill {a.PrefillPairRatio:F2}×, decode {a.DecodePairRatio:F2}×"));
            return 0;
        });
        return cmd;
    }
}
