using System.Text.Json;
using TokenFormer.Runtime.Evaluation;

namespace TokenFormer.Runtime.Tests.Evaluation;

/// <summary>
/// Every task fixture scored by <see cref="TaskEvaluator"/> against the PyTorch reference (tools/reference/make_eval_goldens.py,
/// which builds the requests itself and runs each alone in float64): per-request log-likelihoods within 1e-4 relative,
/// token counts, greedy flags, predictions and accuracies exactly.
/// </summary>
public class GoldenParityTests
{
    private static readonly Lazy<LanguageModel> Model = new(() => LanguageModel.Load(Fixtures.ModelDirectory));

    [Theory]
    [InlineData("lambada_openai", "lambada_openai")]
    [InlineData("hellaswag", "hellaswag")]
    [InlineData("piqa", "piqa")]
    [InlineData("piqa", "piqa_split")]
    [InlineData("arc_easy", "arc_easy")]
    [InlineData("arc_challenge", "arc_challenge")]
    [InlineData("winogrande", "winogrande")]
    public void Task_MatchesTheReference(string taskName, string file) => Check(taskName, file, TaskEvaluator.DefaultItemsPerBatch);

    /// <summary>The fixtures are shorter than the default batch, so they are scored again in batches of one and three examples.</summary>
    [Theory]
    [InlineData("hellaswag", 1)]
    [InlineData("hellaswag", 3)]
    [InlineData("winogrande", 3)]
    [InlineData("lambada_openai", 3)]
    public void Task_MatchesTheReference_InSmallerBatches(string taskName, int itemsPerBatch)
    {
        Assert.True(File.ReadLines(EvalGoldens.Data(taskName + ".jsonl")).Count(l => l.Trim().Length > 0) > itemsPerBatch, "the fixture should span several batches");
        Check(taskName, taskName, itemsPerBatch);
    }

    private static void Check(string taskName, string file, int itemsPerBatch)
    {
        EvalTask task = EvalTask.Find(taskName)!;
        JsonElement golden = EvalGoldens.Load(file);
        IReadOnlyList<TaskItem> items = TaskReader.Read(task, EvalGoldens.Data(file + ".jsonl"));
        TaskResult result = TaskEvaluator.Run(task, items, Model.Value.Model, Model.Value.Tokenizer, itemsPerBatch: itemsPerBatch);

        JsonElement[] examples = golden.GetProperty("examples").EnumerateArray().ToArray();
        Assert.Equal(examples.Length, result.Examples.Count);
        int greedyTrue = 0;
        for (int i = 0; i < examples.Length; i++)
        {
            ExampleResult ours = result.Examples[i];
            JsonElement g = examples[i];
            Assert.Equal(g.GetProperty("line").GetInt32(), ours.Line);
            Assert.Equal(g.GetProperty("gold").GetInt32(), ours.Gold);
            JsonElement[] scores = g.GetProperty("scores").EnumerateArray().ToArray();
            Assert.Equal(scores.Length, ours.Scores.Length);
            for (int c = 0; c < scores.Length; c++)
            {
                string what = $"{file} line {ours.Line} request {c}";
                EvalGoldens.Near(scores[c].GetProperty("ll").GetDouble(), ours.Scores[c].LogLikelihood, what);
                Assert.Equal(scores[c].GetProperty("tokens").GetInt32(), ours.Scores[c].Tokens);
                Assert.True(scores[c].GetProperty("greedy").GetBoolean() == ours.Scores[c].IsGreedy, what + ": greedy flag");
                if (ours.Scores[c].IsGreedy) greedyTrue++;
            }
            Assert.Equal(g.GetProperty("prediction").GetInt32(), ours.Prediction);
            Assert.Equal(g.GetProperty("norm_prediction").GetInt32(), ours.NormPrediction);
        }

        foreach (JsonProperty metric in golden.GetProperty("metrics").EnumerateObject())
        {
            MetricValue v = result.Metrics[metric.Name];
            double expected = metric.Value.GetProperty("value").GetDouble();
            if (metric.Name == "perplexity") EvalGoldens.Near(expected, v.Value, metric.Name);
            else Assert.Equal(expected, v.Value, 12);
            JsonElement se = metric.Value.GetProperty("stderr");
            if (se.ValueKind == JsonValueKind.Null) Assert.Null(v.StandardError);
            else EvalGoldens.Near(se.GetDouble(), v.StandardError!.Value, metric.Name + " stderr");
        }
        Assert.Equal(golden.GetProperty("metrics").EnumerateObject().Count(), result.Metrics.Count);
        if (taskName == "lambada_openai") Assert.True(greedyTrue > 0, "the LAMBADA fixture should have at least one greedy continuation");
    }

    [Theory]
    [InlineData("perplexity.txt", "perplexity_txt")]
    [InlineData("perplexity.jsonl", "perplexity_jsonl")]
    [InlineData("perplexity.jsonl", "wikitext_jsonl")]
    public void RollingPerplexity_MatchesTheReference(string file, string goldenName)
    {
        bool wiki = goldenName.StartsWith("wikitext", StringComparison.Ordinal);
        JsonElement golden = EvalGoldens.Load(goldenName);
        string path = EvalGoldens.Data(file);
        List<string> docs = file.EndsWith(".jsonl", StringComparison.Ordinal)
            ? File.ReadLines(path).Where(l => l.Trim().Length > 0).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("page").GetString()!).ToList()
            : [File.ReadAllText(path)];
        PerplexityResult r = RollingPerplexity.Run(docs, Model.Value.Model, Model.Value.Tokenizer, prepare: wiki ? HarnessText.DetokenizeWikiText : null);
        JsonElement[] g = golden.GetProperty("documents").EnumerateArray().ToArray();
        Assert.Equal(g.Length, r.Documents.Count);
        for (int i = 0; i < g.Length; i++)
        {
            EvalGoldens.Near(g[i].GetProperty("ll").GetDouble(), r.Documents[i].LogLikelihood, $"document {i}");
            Assert.Equal(g[i].GetProperty("tokens").GetInt32(), r.Documents[i].Tokens);
            Assert.Equal(g[i].GetProperty("words").GetInt32(), r.Documents[i].Words);
            Assert.Equal(g[i].GetProperty("bytes").GetInt32(), r.Documents[i].Bytes);
            Assert.Equal(g[i].GetProperty("windows").GetInt32(), r.Documents[i].Windows);
        }
        foreach (JsonProperty metric in golden.GetProperty("metrics").EnumerateObject())
            EvalGoldens.Near(metric.Value.GetDouble(), r.Metrics[metric.Name].Value, metric.Name);
    }
}
