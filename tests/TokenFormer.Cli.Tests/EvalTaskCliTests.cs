using System.Text.Json;
using TokenFormer.TestSupport;

namespace TokenFormer.Cli.Tests;

/// <summary>
/// <c>tokenformer eval --task</c>: the JSON metrics equal the PyTorch reference's goldens (tests/fixtures/eval/goldens),
/// --limit scores the first N examples, progress goes to stderr, and a bad data file is a one-line error naming file,
/// line and field.
/// </summary>
public class EvalTaskCliTests
{
    private static string Root => Path.GetDirectoryName(TrainingFixtures.Directory)!;
    private static string Model => Path.Combine(Root, "library", "sotu-tiny");
    private static string Data(string file) => Path.Combine(Root, "eval", file);

    private static JsonElement Golden(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "eval", "goldens", name + ".json"))).RootElement;

    [Theory]
    [InlineData("hellaswag", "hellaswag", 8)]
    [InlineData("hellaswag", "hellaswag", 2)]
    [InlineData("lambada_openai", "lambada_openai", 8)]
    [InlineData("winogrande", "winogrande", 8)]
    public void Json_MetricsEqualTheReference(string task, string file, int batch)
    {
        var (code, stdout, stderr) = Fixtures.RunCli("eval", "--model", Model, "--task", task, "--data", Data(file + ".jsonl"), "--json", "--batch", batch.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, stderr);
        Assert.Contains("ETA", stderr);
        JsonElement ours = JsonDocument.Parse(stdout).RootElement;
        JsonElement golden = Golden(file);
        Assert.Equal(task, ours.GetProperty("task").GetString());
        Assert.Equal(golden.GetProperty("examples").GetArrayLength(), ours.GetProperty("examples").GetInt32());
        foreach (JsonProperty m in golden.GetProperty("metrics").EnumerateObject())
        {
            double expected = m.Value.GetProperty("value").GetDouble(), actual = ours.GetProperty("metrics").GetProperty(m.Name).GetProperty("value").GetDouble();
            Assert.True(Math.Abs(expected - actual) <= 1e-4 * Math.Abs(expected), $"{m.Name}: {expected} vs {actual}");
            Assert.Equal(m.Value.GetProperty("stderr").ValueKind == JsonValueKind.Null,
                ours.GetProperty("metrics").GetProperty(m.Name).GetProperty("stderr").ValueKind == JsonValueKind.Null);
        }
        JsonElement cost = ours.GetProperty("cost");
        Assert.True(cost.GetProperty("rows").GetInt64() <= cost.GetProperty("unshared_rows").GetInt64());
    }

    [Fact]
    public void Limit_ScoresTheFirstExamples()
    {
        var (code, stdout, stderr) = Fixtures.RunCli("eval", "--model", Model, "--task", "arc_easy", "--data", Data("arc_easy.jsonl"), "--limit", "2", "--json");
        Assert.True(code == 0, stderr);
        JsonElement ours = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(2, ours.GetProperty("examples").GetInt32());
        JsonElement[] g = Golden("arc_easy").GetProperty("examples").EnumerateArray().Take(2).ToArray();
        double acc = g.Average(e => e.GetProperty("prediction").GetInt32() == e.GetProperty("gold").GetInt32() ? 1.0 : 0.0);
        Assert.Equal(acc, ours.GetProperty("metrics").GetProperty("acc").GetProperty("value").GetDouble());
    }

    [Theory]
    [InlineData("perplexity", "perplexity_jsonl")]
    [InlineData("wikitext", "wikitext_jsonl")]
    public void Perplexity_PrintsTokenWordAndBytePerplexity(string task, string golden)
    {
        var (code, stdout, stderr) = Fixtures.RunCli("eval", "--model", Model, "--task", task, "--data", Data("perplexity.jsonl"), "--json");
        Assert.True(code == 0, stderr);
        JsonElement ours = JsonDocument.Parse(stdout).RootElement;
        foreach (JsonProperty m in Golden(golden).GetProperty("metrics").EnumerateObject())
        {
            double actual = ours.GetProperty("metrics").GetProperty(m.Name).GetProperty("value").GetDouble();
            Assert.True(Math.Abs(m.Value.GetDouble() - actual) <= 1e-4 * m.Value.GetDouble(), $"{m.Name}: {m.Value.GetDouble()} vs {actual}");
        }
    }

    [Fact]
    public void BadData_IsAOneLineErrorNamingFileLineAndField()
    {
        string dir = Fixtures.TempDir("eval-bad");
        string file = Path.Combine(dir, "hellaswag.jsonl");
        File.WriteAllLines(file, [File.ReadLines(Data("hellaswag.jsonl")).First(),
            """{"activity_label": "A", "ctx_a": "b", "ctx_b": "c", "endings": ["x", "y", "z", "w"], "label": 7}"""]);
        var (code, stdout, stderr) = Fixtures.RunCli("eval", "--model", Model, "--task", "hellaswag", "--data", file);
        Assert.NotEqual(0, code);
        Assert.Contains($"{file}:2: label: 7 is outside the 4 endings [0, 3]", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void Perplexity_BadDocumentsFile_NamesLineAndField()
    {
        string file = Path.Combine(Fixtures.TempDir("eval-bad-ppl"), "docs.jsonl");
        File.WriteAllLines(file, ["""{"page": "One document."}""", """{"title": "no text"}"""]);
        var (code, _, stderr) = Fixtures.RunCli("eval", "--model", Model, "--task", "perplexity", "--data", file);
        Assert.NotEqual(0, code);
        Assert.Contains($"{file}:2: page: missing", stderr);
    }

    [Fact]
    public void ZeroBatch_IsRefusedNamingTheOption()
    {
        var (code, _, stderr) = Fixtures.RunCli("eval", "--model", Model, "--task", "piqa", "--data", Data("piqa.jsonl"), "--batch", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--batch must be positive (got 0", stderr);
    }

    [Fact]
    public void LimitWithoutTask_IsRefused()
    {
        var (code, _, stderr) = Fixtures.RunCli("eval", "--model", Model, "--text", Data("perplexity.txt"), "--limit", "3");
        Assert.NotEqual(0, code);
        Assert.Contains("--limit and --json go with --task", stderr);
    }
}
