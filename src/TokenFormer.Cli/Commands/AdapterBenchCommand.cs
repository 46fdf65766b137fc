using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Model.Adapters;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Inference;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer bench adapters</c> (docs/adapters.md, Serving): decode throughput of a batch of 4 sequences on the bare
/// base against a mixed batch of 4 (the base and three adapters, one sequence each) on the same base through
/// <see cref="AdapterBank"/>, measured side by side (the two alternate within each repetition); medians and their ratio.
/// </summary>
public static class AdapterBenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Base preset with random weights (default small)", DefaultValueFactory = _ => "small" };
        var tokens = new Option<int>("--adapter-tokens") { Description = "K of each adapter, on every Pattention (default 16)", DefaultValueFactory = _ => 16 };
        var steps = new Option<int>("--new-tokens") { Description = "Decode steps timed per repetition (default 64)", DefaultValueFactory = _ => 64 };
        var reps = new Option<int>("--reps") { Description = "Repetitions (medians reported; at least 3; default 7)", DefaultValueFactory = _ => 7 };
        var cmd = new Command("adapters", "Decode tokens/s of a batch of 4 on the bare base vs a mixed batch of 4 (base + 3 adapters) sharing the base products.")
        {
            preset, tokens, steps, reps,
        };
        cmd.SetAction(parse =>
        {
            int k = parse.GetValue(tokens), n = parse.GetValue(steps), r = parse.GetValue(reps);
            if (k < 1 || n < 1 || r < 3) throw new CliException("--adapter-tokens and --new-tokens must be at least 1 and --reps at least 3");
            TokenFormerConfig cfg;
            try { cfg = TokenFormerPresets.Get(parse.GetValue(preset)!); }
            catch (TokenFormerConfigException e) { throw new CliException(e.Message); }
            const int prompt = 32, batch = 4;
            var model = new TokenFormerModel(cfg);
            model.InitializeRandom(1);
            var bank = new AdapterBank(model);
            for (int a = 0; a < 3; a++)
            {
                AdapterConfig config = Adapter.Describe(model, new TokenCounts(k, k, k), a, 1);
                TokenFormerModel merged = Adapter.StartMerged(model, config);
                var rng = new Random(a);
                foreach (ParameterTensor t in model.Layout.Tensors)
                {
                    if (!t.Grows) continue;
                    ParameterTensor m = merged.Layout.Find(t.Name)!;
                    foreach (ref float v in merged.Parameters.AsSpan(m.Offset + t.Length, m.Length - t.Length)) v = (float)(0.05 * (rng.NextDouble() * 2 - 1));
                }
                bank.Add(Adapter.Extract(merged, config, 0), $"a{a}", "base");
            }
            var plain = new IncrementalRunner(model, batch, prompt + n + 1);
            var mixed = new IncrementalRunner(model, batch, prompt + n + 1) { Adapters = bank };
            for (int s = 0; s < batch; s++) bank.SetSlot(s, s - 1);
            var rngIds = new Random(5);
            int[] ids = Enumerable.Range(0, batch * prompt).Select(_ => rngIds.Next(model.Vocab)).ToArray();
            int[] slots = Enumerable.Range(0, batch * prompt).Select(i => i / prompt).ToArray();
            int[] positions = Enumerable.Range(0, batch * prompt).Select(i => i % prompt).ToArray();
            int[] last = Enumerable.Range(0, batch).Select(s => s * prompt + prompt - 1).ToArray();
            double Decode(IncrementalRunner runner)
            {
                runner.Forward(ids, slots, positions, last);
                int[] step = new int[batch], stepSlots = [0, 1, 2, 3], stepPos = new int[batch], rows = [0, 1, 2, 3];
                for (int s = 0; s < batch; s++) step[s] = ArgMax(runner.Logits(s));
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < n; i++)
                {
                    for (int s = 0; s < batch; s++) stepPos[s] = prompt + i;
                    runner.Forward(step, stepSlots, stepPos, rows);
                    for (int s = 0; s < batch; s++) step[s] = ArgMax(runner.Logits(s));
                }
                return batch * n / Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            Decode(plain); Decode(mixed); // warm-up
            var a1 = new List<double>(); var a2 = new List<double>(); var ratios = new List<double>();
            for (int i = 0; i < r; i++)
            {
                // alternate which goes first, so that a drift in machine load hits both alike
                double p, m;
                if (i % 2 == 0) { p = Decode(plain); m = Decode(mixed); } else { m = Decode(mixed); p = Decode(plain); }
                a1.Add(p); a2.Add(m); ratios.Add(m / p);
            }
            static double Median(List<double> x) { var s = x.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench adapters: preset {parse.GetValue(preset)} ({model.Parameters.LongLength:N0} params), 3 adapters of K={k} on every Pattention ({bank[0].ParameterCount:N0} params each), " +
                $"{Parallelism.ThreadCount} threads, batch {batch}, {n} decode steps × {r} reps after a {prompt}-token prefill"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  bare base, batch 4:                 median {Median(a1):F1} tok/s  [{string.Join(", ", a1.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}]"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  mixed base + 3 adapters, batch 4:   median {Median(a2):F1} tok/s  [{string.Join(", ", a2.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}]"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  mixed / bare: median of per-rep ratios {Median(ratios):F3} (min {ratios.Min():F3}, max {ratios.Max():F3})"));
            return 0;
        });
        return cmd;
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
