using System.Globalization;
using System.Text.Json;
using TokenFormer.Model;
using TokenFormer.Runtime.Evaluation;
using TokenFormer.Text;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer eval --task T --data FILE [--limit N] [--json]</c>: the paper's zero-shot tasks scored as
/// lm-evaluation-harness scores them, and <c>--task perplexity</c> (rolling token/word/byte perplexity of a text file or
/// JSON Lines documents). The work is in <see cref="TaskEvaluator"/> and <see cref="RollingPerplexity"/>
/// (TokenFormer.Runtime.Evaluation); this prints progress on stderr and the metrics on stdout.
/// </summary>
public static class EvalTaskRun
{
    /// <summary>Task names --task accepts.</summary>
    public static IReadOnlyList<string> TaskNames { get; } = [.. EvalTask.All.Select(t => t.Name), "perplexity", "wikitext"];

    private static readonly Dictionary<string, string> Flags = new() { ["Limit"] = "--limit", ["ItemsPerBatch"] = "--batch" };

    /// <summary>
    /// Runs task <paramref name="taskName"/> on <paramref name="dataFile"/> with the model directory's tokenizer,
    /// <paramref name="itemsPerBatch"/> examples scored together (tasks of choices; the perplexity tasks run one document at a time).
    /// </summary>
    public static int Run(TokenFormerModel model, string modelDir, string taskName, string dataFile, int limit, bool json, int itemsPerBatch = TaskEvaluator.DefaultItemsPerBatch)
    {
        string tokPath = Path.Combine(modelDir, "tokenizer.json");
        if (!File.Exists(tokPath)) throw new CliException($"{tokPath}: file not found; --task needs the model's tokenizer.json in the model directory");
        Tokenizer tok;
        try { tok = Tokenizer.Load(tokPath); }
        catch (TokenizerFormatException e) { throw new CliException(e.Message); }
        if (tok.VocabSize > model.Vocab) throw new CliException($"{tokPath} has {tok.VocabSize} ids but the model has only {model.Vocab} embedding rows");
        if (limit < 0) throw new CliException($"--limit must be at least 0 (got {limit}; 0 = all)");
        if (itemsPerBatch < 1) throw new CliException($"--batch must be positive (got {itemsPerBatch}; examples scored together)");
        var progress = new ProgressBar(taskName is "perplexity" or "wikitext" ? "documents" : "examples");
        try
        {
            if (taskName is "perplexity" or "wikitext") return Perplexity(model, modelDir, tok, dataFile, limit, json, progress, taskName);
            EvalTask task = EvalTask.Find(taskName) ?? throw new CliException($"--task: unknown task '{taskName}' (one of {string.Join(", ", TaskNames)})");
            IReadOnlyList<TaskItem> items = TaskReader.Read(task, dataFile);
            TaskResult r = TaskEvaluator.Run(task, items, model, tok, limit, progress.Report, itemsPerBatch: itemsPerBatch);
            progress.Done();
            Print(r, modelDir, dataFile, json);
            return 0;
        }
        catch (EvalDataException e) { throw new CliException(e.Message); }
        catch (InvalidSettingException e) { throw LibraryErrors.ToCli(e, Flags); }
        catch (ArgumentException e) { throw new CliException($"{dataFile}: {e.Message}"); }
    }

    private static int Perplexity(TokenFormerModel model, string modelDir, Tokenizer tok, string dataFile, int limit, bool json, ProgressBar progress, string taskName)
    {
        bool wiki = taskName == "wikitext";
        if (wiki && !dataFile.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
            throw new CliException($"--task wikitext reads WikiText documents from a .jsonl file with a \"page\" per line (got {dataFile}); use --task perplexity for plain text");
        List<string> docs = TaskReader.ReadDocuments(dataFile, wiki);
        PerplexityResult r = RollingPerplexity.Run(docs, model, tok, limit, progress.Report, prepare: wiki ? HarnessText.DetokenizeWikiText : null);
        progress.Done();
        long tokens = r.Documents.Sum(d => (long)d.Tokens);
        if (json)
        {
            WriteJson(w =>
            {
                w.WriteString("task", taskName); w.WriteString("model", modelDir); w.WriteString("data", dataFile);
                w.WriteNumber("documents", r.Documents.Count); w.WriteNumber("tokens", tokens);
                w.WriteNumber("words", r.Documents.Sum(d => (long)d.Words)); w.WriteNumber("bytes", r.Documents.Sum(d => (long)d.Bytes));
                w.WriteNumber("windows", r.Documents.Sum(d => d.Windows)); w.WriteNumber("context", model.Config.MaxPositionEmbeddings);
                WriteMetrics(w, r.Metrics);
                w.WriteNumber("seconds", Math.Round(r.Elapsed.TotalSeconds, 3));
                w.WriteNumber("tokens_per_second", Math.Round(tokens / Math.Max(r.Elapsed.TotalSeconds, 1e-9), 1));
            });
            return 0;
        }
        Console.WriteLine(Inv($"{taskName} of {dataFile}: {r.Documents.Count:N0} documents, {tokens:N0} tokens in {r.Documents.Sum(d => d.Windows):N0} windows of up to {model.Config.MaxPositionEmbeddings}"));
        foreach ((string name, MetricValue v) in r.Metrics) Console.WriteLine("  " + Line(name, v));
        Console.WriteLine(Inv($"  {r.Elapsed.TotalSeconds:F1} s, {tokens / Math.Max(r.Elapsed.TotalSeconds, 1e-9):N0} tokens/s"));
        return 0;
    }

    private static void Print(TaskResult r, string modelDir, string dataFile, bool json)
    {
        int n = r.Examples.Count;
        double seconds = Math.Max(r.Elapsed.TotalSeconds, 1e-9);
        if (json)
        {
            WriteJson(w =>
            {
                w.WriteString("task", r.Task.Name); w.WriteString("model", modelDir); w.WriteString("data", dataFile);
                w.WriteNumber("examples", n);
                WriteMetrics(w, r.Metrics);
                w.WriteNumber("seconds", Math.Round(r.Elapsed.TotalSeconds, 3));
                w.WriteNumber("examples_per_second", Math.Round(n / seconds, 3));
                w.WriteStartObject("cost");
                w.WriteNumber("rows", r.Cost.Rows); w.WriteNumber("logit_rows", r.Cost.LogitRows); w.WriteNumber("flops", r.Cost.Flops);
                w.WriteNumber("unshared_rows", r.UnsharedCost.Rows); w.WriteNumber("unshared_flops", r.UnsharedCost.Flops);
                w.WriteNumber("longest_choice_rows", r.LongestCost.Rows); w.WriteNumber("longest_choice_flops", r.LongestCost.Flops);
                w.WriteEndObject();
            });
            return;
        }
        Console.WriteLine(Inv($"{r.Task.Name}: {n:N0} examples from {dataFile}"));
        foreach ((string name, MetricValue v) in r.Metrics) Console.WriteLine("  " + Line(name, v));
        Console.WriteLine(Inv($"  {r.Elapsed.TotalSeconds:F1} s, {n / seconds:F2} examples/s; {r.Cost.Rows:N0} tokens run ({r.Cost.Flops / r.LongestCost.Flops:F2}× the FLOPs of one forward of each example's longest choice; scoring every choice alone: {r.UnsharedCost.Flops / r.LongestCost.Flops:F2}×)"));
    }

    private static string Line(string name, MetricValue v) =>
        v.StandardError is double se ? Inv($"{name,-17} {v.Value:F4} ± {se:F4}") : Inv($"{name,-17} {v.Value:F4}");

    private static void WriteMetrics(Utf8JsonWriter w, IReadOnlyDictionary<string, MetricValue> metrics)
    {
        w.WriteStartObject("metrics");
        foreach ((string name, MetricValue v) in metrics)
        {
            w.WriteStartObject(name);
            w.WriteNumber("value", v.Value);
            if (v.StandardError is double se) w.WriteNumber("stderr", se); else w.WriteNull("stderr");
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteJson(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        Console.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Progress on stderr: a bar redrawn in place on a terminal, a line every 10 % otherwise.</summary>
    private sealed class ProgressBar(string unit)
    {
        private readonly bool _terminal = !Console.IsErrorRedirected;
        private int _lastDecile = -1;
        private DateTime _lastDraw;

        public void Report(Runtime.Evaluation.EvalProgress p)
        {
            string eta = p.Remaining is TimeSpan t ? Clock(t) : "?";
            double rate = p.Done / Math.Max(p.Elapsed.TotalSeconds, 1e-9);
            if (_terminal)
            {
                if (p.Done < p.Total && (DateTime.UtcNow - _lastDraw).TotalMilliseconds < 200) return;
                _lastDraw = DateTime.UtcNow;
                int filled = (int)(30L * p.Done / p.Total);
                Console.Error.Write(Inv($"\r[{new string('#', filled)}{new string('.', 30 - filled)}] {p.Done:N0}/{p.Total:N0} {unit} | {rate:F2}/s | ETA {eta}   "));
                return;
            }
            int decile = (int)(10L * p.Done / p.Total);
            if (decile == _lastDecile) return;
            _lastDecile = decile;
            Console.Error.WriteLine(Inv($"{p.Done:N0}/{p.Total:N0} {unit} | {rate:F2}/s | elapsed {Clock(p.Elapsed)} | ETA {eta}"));
        }

        public void Done()
        {
            if (_terminal) Console.Error.WriteLine();
        }

        private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);
    }
}
