using System.Diagnostics;
using TokenFormer.Model;
using TokenFormer.Text;

namespace TokenFormer.Runtime.Evaluation;

/// <summary>A metric's value and its standard error (null when it has none).</summary>
public readonly record struct MetricValue(double Value, double? StandardError);

/// <summary>Progress of an evaluation: items done of the total, and the time since it started.</summary>
public readonly record struct EvalProgress(int Done, int Total, TimeSpan Elapsed)
{
    /// <summary>Estimated time left at the rate so far (null before the first item).</summary>
    public TimeSpan? Remaining => Done == 0 ? null : TimeSpan.FromSeconds(Elapsed.TotalSeconds / Done * (Total - Done));
}

/// <summary>One example's answers: the scores of its requests and what the metrics made of them.</summary>
/// <param name="Line">1-based line of the data file.</param>
/// <param name="Gold">Index of the correct request.</param>
/// <param name="Scores">One per request.</param>
/// <param name="Prediction">argmax of the log-likelihoods (first on ties), as acc uses it.</param>
/// <param name="NormPrediction">argmax of log-likelihood / characters of the choice, as acc_norm uses it.</param>
public sealed record ExampleResult(int Line, int Gold, RequestScore[] Scores, int Prediction, int NormPrediction);

/// <summary>The result of a task: metrics with standard errors, every example, and what the scoring cost.</summary>
public sealed class TaskResult
{
    /// <summary>The task.</summary>
    public required EvalTask Task { get; init; }
    /// <summary>Metric name (acc, acc_norm, perplexity) → value and standard error, as lm-evaluation-harness names them.</summary>
    public required IReadOnlyDictionary<string, MetricValue> Metrics { get; init; }
    /// <summary>Every example scored, in file order.</summary>
    public required IReadOnlyList<ExampleResult> Examples { get; init; }
    /// <summary>Rows, logit rows, calls and FLOPs of the scoring.</summary>
    public required ScoringCost Cost { get; init; }
    /// <summary>What scoring each request of every example alone (one forward of context + continuation each) would have cost.</summary>
    public required ScoringCost UnsharedCost { get; init; }
    /// <summary>What one forward pass of each example's longest request (context + its longest choice) costs, summed.</summary>
    public required ScoringCost LongestCost { get; init; }
    /// <summary>Wall time of the scoring.</summary>
    public required TimeSpan Elapsed { get; init; }
}

/// <summary>
/// Runs a task's examples through a <see cref="LoglikelihoodScorer"/> and computes lm-evaluation-harness's metrics
/// (docs/evaluation.md, "Metrics"): for LAMBADA perplexity = exp(−mean log-likelihood) and acc = mean greedy flag; for
/// multiple choice acc = [argmax ll = gold] and acc_norm = [argmax ll / len(choice) = gold] (len in characters of the
/// choice string, without the delimiter). Standard errors: sample standard deviation / √n for the means; for perplexity
/// the delta method, perplexity × s(ll)/√n (the harness bootstraps it instead).
/// </summary>
public static class TaskEvaluator
{
    /// <summary>
    /// Examples scored together by default (<see cref="Run"/>, `eval --task --batch`): eight, so that every weight is read
    /// from memory and packed once for eight examples; against four, a HellaSwag-sized example costs about 4 % less and
    /// the six short HellaSwag fixture examples repeated to 48 score 16 % faster, for about 66 MB more resident memory with
    /// the 150m preset (docs/benchmarks.md, "Evaluation").
    /// </summary>
    public const int DefaultItemsPerBatch = 8;

    /// <summary>Rows a forward call may take per example of a batch: 256, so that a batch of HellaSwag-sized examples (about 136 rows each) is one call.</summary>
    public const int RowsPerItem = 256;

    /// <summary>
    /// The scorer <see cref="Run"/> uses: <paramref name="itemsPerBatch"/> examples of up to <paramref name="requestsPerItem"/>
    /// requests (at most 16 slots each) in one batch, up to <see cref="RowsPerItem"/> rows per example in a forward call,
    /// any of which may ask for logits (they are held one vocabulary slice at a time: 16 MiB for 1,024 rows).
    /// <paramref name="cacheLength"/>: positions per request the KV cache holds (0 = the model's context).
    /// </summary>
    public static LoglikelihoodScorer CreateScorer(TokenFormerModel model, Tokenizer? tokenizer, int requestsPerItem, int itemsPerBatch = DefaultItemsPerBatch, int cacheLength = 0) =>
        new(model, tokenizer, maxSlots: Math.Min(Math.Max(1, requestsPerItem), 16) * itemsPerBatch, maxRows: RowsPerItem * itemsPerBatch, cacheLength: cacheLength);

    /// <summary>
    /// Scores <paramref name="items"/> (the first <paramref name="limit"/> when positive) with the model and tokenizer,
    /// <paramref name="itemsPerBatch"/> examples per batch of forward calls (<see cref="LoglikelihoodScorer.ScoreItems"/>;
    /// the results do not depend on it).
    /// </summary>
    public static TaskResult Run(EvalTask task, IReadOnlyList<TaskItem> items, TokenFormerModel model, Tokenizer tokenizer,
        int limit = 0, Action<EvalProgress>? onProgress = null, CancellationToken cancel = default, int itemsPerBatch = DefaultItemsPerBatch)
    {
        if (itemsPerBatch < 1) throw new InvalidSettingException("ItemsPerBatch", "must be at least 1", itemsPerBatch);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(items);
        if (limit < 0) throw new InvalidSettingException("Limit", "must be at least 0", limit, "0 = all");
        int n = limit > 0 ? Math.Min(limit, items.Count) : items.Count;
        int slots = Math.Max(1, items.Take(n).Max(i => i.Requests.Count));
        // encode everything first: the KV cache then needs only the longest input's positions, not the model's context
        var encodeOnly = new LoglikelihoodScorer(model, tokenizer, maxSlots: 1, maxRows: 1, cacheLength: 1);
        var encodedItems = new EncodedRequest[n][];
        var inputLengths = new int[n][];
        int longestInput = 1;
        for (int i = 0; i < n; i++)
        {
            encodedItems[i] = items[i].Requests.Select(encodeOnly.Encode).ToArray();
            try { inputLengths[i] = encodedItems[i].Select(r => encodeOnly.Input(r, out _).Length).ToArray(); }
            catch (ArgumentException e) { throw new ArgumentException($"example on line {items[i].Line}: {e.Message}", e); }
            longestInput = Math.Max(longestInput, inputLengths[i].Max());
        }
        LoglikelihoodScorer scorer = CreateScorer(model, tokenizer, slots, itemsPerBatch, longestInput);
        var unshared = new ScoringCost();
        var longest = new ScoringCost();
        var examples = new List<ExampleResult>(n);
        var watch = Stopwatch.StartNew();
        for (int start = 0; start < n; start += itemsPerBatch)
        {
            cancel.ThrowIfCancellationRequested();
            int count = Math.Min(itemsPerBatch, n - start);
            RequestScore[][] scores;
            try { scores = scorer.ScoreItems(encodedItems[start..(start + count)]); }
            catch (ArgumentException e) { throw new ArgumentException($"examples on lines {items[start].Line}–{items[start + count - 1].Line}: {e.Message}", e); }
            for (int i = start; i < start + count; i++)
            {
                EncodedRequest[] encoded = encodedItems[i];
                ScoringCost? longestOne = null;
                int longestLength = -1;
                for (int r = 0; r < encoded.Length; r++)
                {
                    int inputLength = inputLengths[i][r];
                    ScoringCost one = ScoringCost.OneForward(model.Config, inputLength, encoded[r].Continuation.Length);
                    unshared.Add(one);
                    if (inputLength > longestLength) { longestLength = inputLength; longestOne = one; }
                }
                longest.Add(longestOne!);
                examples.Add(Judge(items[i], scores[i - start]));
            }
            onProgress?.Invoke(new EvalProgress(start + count, n, watch.Elapsed));
        }
        return new TaskResult
        {
            Task = task, Metrics = Metrics(task, examples), Examples = examples, Cost = scorer.Cost, UnsharedCost = unshared, LongestCost = longest,
            Elapsed = watch.Elapsed,
        };
    }

    /// <summary>The predictions of one example (argmax takes the first maximum, as numpy's does).</summary>
    public static ExampleResult Judge(TaskItem item, RequestScore[] scores)
    {
        int pred = 0, norm = 0;
        double best = double.NegativeInfinity, bestNorm = double.NegativeInfinity;
        for (int c = 0; c < scores.Length; c++)
        {
            double ll = scores[c].LogLikelihood;
            if (ll > best) { best = ll; pred = c; }
            double perChar = ll / HarnessText.PythonLength(item.Choices[c]);
            if (perChar > bestNorm) { bestNorm = perChar; norm = c; }
        }
        return new ExampleResult(item.Line, item.Gold, scores, pred, norm);
    }

    /// <summary>The task's metrics over the examples.</summary>
    public static IReadOnlyDictionary<string, MetricValue> Metrics(EvalTask task, IReadOnlyList<ExampleResult> examples)
    {
        var m = new Dictionary<string, MetricValue>();
        if (task.Scoring == TaskScoring.Loglikelihood)
        {
            double[] ll = examples.Select(e => e.Scores[0].LogLikelihood).ToArray();
            double ppl = Math.Exp(-ll.Average());
            double? se = StandardError(ll);
            m["perplexity"] = new MetricValue(ppl, se * ppl);
            m["acc"] = Mean(examples.Select(e => e.Scores[0].IsGreedy ? 1.0 : 0.0));
        }
        else
        {
            m["acc"] = Mean(examples.Select(e => e.Prediction == e.Gold ? 1.0 : 0.0));
            if (task.HasAccNorm) m["acc_norm"] = Mean(examples.Select(e => e.NormPrediction == e.Gold ? 1.0 : 0.0));
        }
        return m;
    }

    private static MetricValue Mean(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        return new MetricValue(v.Average(), StandardError(v));
    }

    /// <summary>Sample standard deviation (n − 1) / √n; null for fewer than two values.</summary>
    public static double? StandardError(IReadOnlyList<double> v)
    {
        if (v.Count < 2) return null;
        double mean = v.Average(), ss = 0;
        foreach (double x in v) ss += (x - mean) * (x - mean);
        return Math.Sqrt(ss / (v.Count - 1)) / Math.Sqrt(v.Count);
    }
}
