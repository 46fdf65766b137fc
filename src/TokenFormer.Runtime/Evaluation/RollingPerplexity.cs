using System.Diagnostics;
using TokenFormer.Model;
using TokenFormer.Text;

namespace TokenFormer.Runtime.Evaluation;

/// <summary>One document's rolling log-likelihood with the counts the perplexities divide by.</summary>
/// <param name="LogLikelihood">Σ log p over every token of the document (natural log).</param>
/// <param name="Tokens">Tokens predicted (all of the document's).</param>
/// <param name="Words">Python's len(re.split(r"\s+", text)).</param>
/// <param name="Bytes">UTF-8 bytes.</param>
/// <param name="Windows">Windows the document was cut into.</param>
public readonly record struct DocumentScore(double LogLikelihood, int Tokens, int Words, int Bytes, int Windows);

/// <summary>Token, word and byte perplexity of documents, with bits per byte.</summary>
public sealed class PerplexityResult
{
    /// <summary>Per document, in order.</summary>
    public required IReadOnlyList<DocumentScore> Documents { get; init; }
    /// <summary>token_perplexity, word_perplexity, byte_perplexity, bits_per_byte with standard errors (delta method over documents; none for one document).</summary>
    public required IReadOnlyDictionary<string, MetricValue> Metrics { get; init; }
    /// <summary>Rows, logit rows, calls and FLOPs.</summary>
    public required ScoringCost Cost { get; init; }
    /// <summary>Wall time.</summary>
    public required TimeSpan Elapsed { get; init; }
}

/// <summary>
/// Rolling log-likelihood of whole documents as lm-evaluation-harness computes it for WikiText (docs/evaluation.md,
/// "Perplexity"): the tokens are cut into disjoint windows of the model's context; the first window is the
/// end-of-text id followed by the first tokens, every later window predicts the next up to max-length tokens with the
/// preceding tokens filling the rest of the context. Every token is predicted exactly once.
/// </summary>
public static class RollingPerplexity
{
    /// <summary>
    /// The harness's windows over <paramref name="tokens"/> for a context of <paramref name="maxLength"/>: (context ids,
    /// predicted ids) pairs, made disjoint (the context keeps only what comes before the predicted ids).
    /// </summary>
    public static List<EncodedRequest> Windows(int[] tokens, int prefixToken, int maxLength)
    {
        var windows = new List<EncodedRequest>();
        if (tokens.Length == 0) return windows;
        int firstLength = Math.Min(maxLength, tokens.Length);
        windows.Add(new EncodedRequest([prefixToken], tokens[..firstLength]));
        int predicted = firstLength;
        while (predicted < tokens.Length)
        {
            int length = Math.Min(tokens.Length - predicted, maxLength);
            int end = predicted + length;
            // the input is the max-length ids before the last predicted one; the predicted ids are its last `length`
            int contextStart = end - maxLength - 1;
            windows.Add(new EncodedRequest(tokens[contextStart..predicted], tokens[predicted..end]));
            predicted = end;
        }
        return windows;
    }

    /// <summary>
    /// Scores every document (text) with the model; progress is reported per document. <paramref name="prepare"/>, when
    /// given, turns a document into the text that is scored (the harness's WikiText detokeniser,
    /// <see cref="HarnessText.DetokenizeWikiText"/>); words and bytes are counted on the document as given, as the
    /// harness counts them.
    /// </summary>
    public static PerplexityResult Run(IReadOnlyList<string> documents, TokenFormerModel model, Tokenizer tokenizer,
        int limit = 0, Action<EvalProgress>? onProgress = null, CancellationToken cancel = default, Func<string, string>? prepare = null)
    {
        ArgumentNullException.ThrowIfNull(documents);
        if (limit < 0) throw new InvalidSettingException("Limit", "must be at least 0", limit, "0 = all");
        int eot = tokenizer.EndOfTextId ?? throw new ArgumentException($"rolling perplexity starts each document with the end-of-text token, but the tokenizer has no {Tokenizer.EndOfTextToken}");
        int n = limit > 0 ? Math.Min(limit, documents.Count) : documents.Count;
        var scorer = new LoglikelihoodScorer(model, tokenizer, maxSlots: 1);
        var scores = new List<DocumentScore>(n);
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < n; i++)
        {
            cancel.ThrowIfCancellationRequested();
            string text = documents[i];
            int[] ids = tokenizer.Encode(prepare == null ? text : prepare(text));
            double ll = 0;
            List<EncodedRequest> windows = Windows(ids, eot, scorer.MaxLength);
            foreach (EncodedRequest w in windows) ll += scorer.ScoreTokens([w])[0].LogLikelihood;
            scores.Add(new DocumentScore(ll, ids.Length, HarnessText.WordCount(text), HarnessText.ByteCount(text), windows.Count));
            onProgress?.Invoke(new EvalProgress(i + 1, n, watch.Elapsed));
        }
        return new PerplexityResult { Documents = scores, Metrics = Metrics(scores), Cost = scorer.Cost, Elapsed = watch.Elapsed };
    }

    /// <summary>
    /// exp(−Σll / Σunits) for tokens, words and bytes, and bits per byte = −Σll / Σbytes / ln 2. Standard errors by the
    /// delta method for a ratio of sums over documents (null for a single document).
    /// </summary>
    public static IReadOnlyDictionary<string, MetricValue> Metrics(IReadOnlyList<DocumentScore> docs)
    {
        double[] ll = docs.Select(d => d.LogLikelihood).ToArray();
        var m = new Dictionary<string, MetricValue>();
        (string name, double[] units)[] kinds =
        [
            ("token_perplexity", docs.Select(d => (double)d.Tokens).ToArray()),
            ("word_perplexity", docs.Select(d => (double)d.Words).ToArray()),
            ("byte_perplexity", docs.Select(d => (double)d.Bytes).ToArray()),
        ];
        foreach ((string name, double[] units) in kinds)
        {
            (double rate, double? se) = Ratio(ll, units);
            double ppl = Math.Exp(-rate);
            m[name] = new MetricValue(ppl, se * ppl);
            if (name == "byte_perplexity") m["bits_per_byte"] = new MetricValue(-rate / Math.Log(2), se / Math.Log(2));
        }
        return m;
    }

    /// <summary>R = Σy/Σx and its delta-method standard error √(Σ(y − R·x)² / (n(n−1))) / x̄.</summary>
    private static (double Rate, double? StandardError) Ratio(double[] y, double[] x)
    {
        double sy = y.Sum(), sx = x.Sum(), rate = sy / sx;
        int n = y.Length;
        if (n < 2) return (rate, null);
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (y[i] - rate * x[i]) * (y[i] - rate * x[i]);
        return (rate, Math.Sqrt(ss / ((double)n * (n - 1))) / (sx / n));
    }
}
