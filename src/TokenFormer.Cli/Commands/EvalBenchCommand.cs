using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TokenFormer.Bench;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Runtime.Evaluation;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer bench eval</c>: the cost of scoring one example of each task's shape with the evaluation harness's
/// <see cref="LoglikelihoodScorer"/> on a preset with random weights, against one forward pass of the example's
/// longest request (context + longest choice) and against scoring every request alone: counted FLOPs and rows, and
/// median wall times measured side by side; examples/s. Figures go to docs/benchmarks.md ("Evaluation").
/// </summary>
public static class EvalBenchCommand
{
    /// <summary>An example's shape in tokens: the shared prefix, then each request's own tokens (the last ones scored).</summary>
    private sealed record Shape(string Task, int Prefix, int[] Tails, int[] Scored, string Note);

    // Token counts chosen to look like the tasks' typical examples with a GPT-NeoX tokenizer (assumed, not measured
    // on the data sets): LAMBADA a passage and its last word; HellaSwag a context and four endings; PIQA a goal and two
    // solutions; ARC a question and four short answers; WinoGrande a sentence start, then each option followed by the
    // same rest of the sentence (scored; it cannot be shared because it follows different options).
    private static readonly Shape[] Shapes =
    [
        new("lambada_openai", 77, [2], [2], "passage 77 + last word 2"),
        new("hellaswag", 48, [22, 26, 20, 24], [22, 26, 20, 24], "context 48 + endings 22/26/20/24"),
        new("piqa", 18, [26, 24], [26, 24], "goal 18 + solutions 26/24"),
        new("arc", 30, [5, 7, 4, 6], [5, 7, 4, 6], "question 30 + answers 5/7/4/6"),
        new("winogrande", 14, [11, 11], [9, 9], "sentence start 14 + option 2 + rest 9 (scored)"),
    ];

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset (random weights; see `tokenformer presets`)", DefaultValueFactory = _ => "150m" };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions per shape (medians are reported; at least 3)", DefaultValueFactory = _ => 5 };
        var cmd = new Command("eval",
            "Cost of scoring one example of each task's shape (shared context once, choices batched) against one forward pass of " +
            "context + longest choice and against every choice alone: counted FLOPs and median times side by side, examples/s.")
        {
            preset, reps,
        };
        cmd.SetAction(parse =>
        {
            int r = parse.GetValue(reps);
            if (r < 3) throw new CliException($"--reps must be at least 3 (got {r})");
            TokenFormerConfig cfg;
            try { cfg = TokenFormerPresets.Get(parse.GetValue(preset)!); }
            catch (TokenFormerConfigException e) { throw new CliException(e.Message); }
            var model = new TokenFormerModel(cfg);
            model.InitializeRandom(1234);
            Run(model, parse.GetValue(preset)!, r);
            return 0;
        });
        return cmd;
    }

    private static void Run(TokenFormerModel model, string presetName, int reps)
    {
        var rng = new Random(7);
        TokenFormerConfig cfg = model.Config;
        Console.WriteLine(Inv($"bench eval {presetName} ({model.Parameters.LongLength:N0} params), {Parallelism.ThreadCount} threads, {reps} reps, medians"));
        const int n = TaskEvaluator.DefaultItemsPerBatch;
        Console.WriteLine(Inv($"| task shape | tokens run: shared / longest forward | FLOPs: shared / longest | FLOPs: all alone / longest | time: shared / longest | time: all alone / longest | examples/s, one at a time | examples/s, {n} per batch | time per example at {n} per batch / longest forward | plain forward of the longest request (all logits), ms | time per example at {n} per batch / plain forward | the same, median of the per-repetition ratios |"));
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (Shape s in Shapes)
        {
            int[] prefix = Enumerable.Range(0, s.Prefix).Select(_ => rng.Next(1, cfg.Vocab)).ToArray();
            var requests = new EncodedRequest[s.Tails.Length];
            for (int i = 0; i < requests.Length; i++)
            {
                // each request's own tokens start with a different id, so the shared prefix is exactly `prefix`
                int[] tail = Enumerable.Range(0, s.Tails[i]).Select(j => j == 0 ? 1 + i : rng.Next(1, cfg.Vocab)).ToArray();
                int[] all = [.. prefix, .. tail];
                int scored = s.Scored[i];
                requests[i] = new EncodedRequest(all[..^scored], all[^scored..]);
            }
            int longest = Enumerable.Range(0, requests.Length).MaxBy(i => requests[i].Context.Length + requests[i].Continuation.Length);
            var shared = new LoglikelihoodScorer(model, null, maxSlots: requests.Length);
            var single = new LoglikelihoodScorer(model, null, maxSlots: 1);
            // examples of the same shape (other random ids), as many per batch as `eval --task` scores together
            var batch = new EncodedRequest[n][];
            batch[0] = requests;
            for (int e = 1; e < batch.Length; e++)
            {
                int[] otherPrefix = Enumerable.Range(0, s.Prefix).Select(_ => rng.Next(1, cfg.Vocab)).ToArray();
                batch[e] = requests.Select(q =>
                {
                    int[] c = (int[])q.Context.Clone();
                    otherPrefix.CopyTo(c, 0);
                    return new EncodedRequest(c, q.Continuation);
                }).ToArray();
            }
            LoglikelihoodScorer batched = TaskEvaluator.CreateScorer(model, null, requests.Length, batch.Length);
            batched.ScoreItems(batch);
            shared.ScoreTokens(requests); // warm-up (and the counted cost of one example)
            ScoringCost counted = shared.Cost;
            long rowsShared = counted.Rows;
            double flopsShared = counted.Flops;
            ScoringCost one = ScoringCost.OneForward(cfg, requests[longest].Context.Length + requests[longest].Continuation.Length - 1, requests[longest].Continuation.Length);
            double flopsAlone = requests.Sum(q => ScoringCost.OneForward(cfg, q.Context.Length + q.Continuation.Length - 1, q.Continuation.Length).Flops);
            single.ScoreTokens([requests[longest]]);
            // a plain forward pass of the model over the longest request: logits at every position, as a model's forward
            // gives them (the scorer's own one-slot forward above computes the continuation's logits only)
            int[] longestTokens = [.. requests[longest].Context, .. requests[longest].Continuation];
            var plain = new ModelRunner(model, 1, longestTokens.Length, training: false);
            plain.Forward(longestTokens);
            var tPlain = new List<double>();
            var tShared = new List<double>(); var tLongest = new List<double>(); var tAlone = new List<double>(); var tBatch = new List<double>();
            for (int rep = 0; rep < reps; rep++)
            {
                tShared.Add(Time(() => shared.ScoreTokens(requests)));
                tLongest.Add(Time(() => single.ScoreTokens([requests[longest]])));
                tAlone.Add(Time(() => { foreach (EncodedRequest q in requests) single.ScoreTokens([q]); }));
                tBatch.Add(Time(() => batched.ScoreItems(batch)));
                tPlain.Add(Time(() => plain.Forward(longestTokens)));
            }
            double ms = Measure.Median(tShared), ml = Measure.Median(tLongest), ma = Measure.Median(tAlone), mb = Measure.Median(tBatch), mp = Measure.Median(tPlain);
            // the two are timed back to back in each repetition, so the ratio of a pair is the one a drifting host moves least
            double pairs = Measure.Median(tBatch.Select((t, i) => t / batch.Length / tPlain[i]).ToList());
            Console.WriteLine(Inv($"| {s.Task}: {s.Note} | {rowsShared} / {one.Rows} | {flopsShared / one.Flops:F2}× | {flopsAlone / one.Flops:F2}× | {ms / ml:F2}× ({ms * 1000:F0} / {ml * 1000:F0} ms) | {ma / ml:F2}× | {1 / ms:F2} | {n / mb:F2} | {mb / n / ml:F2}× | {mp * 1000:F0} | {mb / n / mp:F2}× | {pairs:F3}× |"));
        }
    }

    private static double Time(Action a)
    {
        long t = Stopwatch.GetTimestamp();
        a();
        return Stopwatch.GetElapsedTime(t).TotalSeconds;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
