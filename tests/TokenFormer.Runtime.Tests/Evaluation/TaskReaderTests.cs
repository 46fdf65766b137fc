using TokenFormer.Runtime.Evaluation;

namespace TokenFormer.Runtime.Tests.Evaluation;

/// <summary>
/// <see cref="TaskReader"/>: the requests it builds from each public format, and the errors for a missing field, a wrong
/// type and an answer out of range, each naming the file, the line and the field.
/// </summary>
public class TaskReaderTests
{
    private static string Write(string name, params string[] lines)
    {
        string path = Path.Combine(Fixtures.TempDir("eval-reader"), name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static void Fails(EvalTask task, string line, string field, string expected, int lineNo = 2, string? first = null)
    {
        string good = first ?? File.ReadLines(EvalGoldens.Data(task.Name + ".jsonl")).First();
        string path = Write(task.Name + ".jsonl", good, line);
        var e = Assert.Throws<EvalDataException>(() => TaskReader.Read(task, path));
        Assert.Equal(path, e.File);
        Assert.Equal(lineNo, e.Line);
        Assert.Equal(field, e.Field);
        Assert.StartsWith($"{path}:{lineNo}: {field}: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Lambada_MissingOrWrongText()
    {
        Fails(EvalTask.LambadaOpenAI, """{"txt": "a b"}""", "text", "missing");
        Fails(EvalTask.LambadaOpenAI, """{"text": 5}""", "text", "expected a string, got a number");
    }

    [Fact]
    public void HellaSwag_Errors()
    {
        const string ok = """ "activity_label": "A", "ctx_a": "b", "ctx_b": "c" """;
        Fails(EvalTask.HellaSwag, "{" + ok + """, "endings": ["x", "y"]}""", "label", "missing");
        Fails(EvalTask.HellaSwag, "{" + ok + """, "endings": ["x", "y"], "label": 2}""", "label", "2 is outside the 2 endings [0, 1]");
        Fails(EvalTask.HellaSwag, "{" + ok + """, "endings": ["x", "y"], "label": "-1"}""", "label", "expected an integer index");
        Fails(EvalTask.HellaSwag, "{" + ok + """, "endings": "x", "label": 0}""", "endings", "expected an array, got a string");
        Fails(EvalTask.HellaSwag, "{" + ok + """, "endings": ["x", 3], "label": 0}""", "endings[1]", "expected a string, got a number");
        Fails(EvalTask.HellaSwag, """{"activity_label": "A", "ctx_b": "c", "endings": ["x", "y"], "label": 0}""", "ctx_a", "missing");
    }

    [Fact]
    public void Piqa_Errors()
    {
        Fails(EvalTask.Piqa, """{"goal": "g", "sol1": "a", "sol2": "b", "label": 2}""", "label", "2 is outside the 2 solutions");
        Fails(EvalTask.Piqa, """{"goal": "g", "sol1": "a", "sol2": "b"}""", "label", "missing (and there is no piqa-labels.lst");
        Fails(EvalTask.Piqa, """{"goal": "g", "sol1": ["a"], "sol2": "b", "label": 0}""", "sol1", "expected a string, got an array");
    }

    [Fact]
    public void Piqa_LabelsFileBeside()
    {
        IReadOnlyList<TaskItem> items = TaskReader.Read(EvalTask.Piqa, EvalGoldens.Data("piqa_split.jsonl"));
        Assert.Equal([0, 1, 0], items.Select(i => i.Gold));
        string dir = Fixtures.TempDir("piqa-labels");
        File.Copy(EvalGoldens.Data("piqa_split.jsonl"), Path.Combine(dir, "valid.jsonl"));
        File.WriteAllLines(Path.Combine(dir, "valid-labels.lst"), ["0", "2", "1"]);
        var e = Assert.Throws<EvalDataException>(() => TaskReader.Read(EvalTask.Piqa, Path.Combine(dir, "valid.jsonl")));
        Assert.Equal(Path.Combine(dir, "valid-labels.lst") + ":2: label: expected 0 or 1, got \"2\"", e.Message);
    }

    [Fact]
    public void Arc_Errors()
    {
        Fails(EvalTask.ArcEasy, """{"question": {"stem": "q", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}]}, "answerKey": "C"}""",
            "answerKey", "\"C\" is not one of the choice labels [A, B]");
        Fails(EvalTask.ArcEasy, """{"question": {"stem": "q", "choices": [{"text": "a", "label": "A"}, {"label": "B"}]}, "answerKey": "A"}""",
            "question.choices[1].text", "missing");
        Fails(EvalTask.ArcChallenge, """{"question": 5, "answerKey": "A"}""", "question", "expected an object, got a number");
        Fails(EvalTask.ArcChallenge, """{"question": "q", "answerKey": "A"}""", "choices", "missing");
        Fails(EvalTask.ArcChallenge, """{"question": "q", "choices": {"text": ["a", "b"], "label": ["A"]}, "answerKey": "A"}""", "choices.label", "has 1 labels for 2 texts");
        Fails(EvalTask.ArcChallenge, """{"question": {"stem": 1, "choices": []}, "answerKey": "A"}""", "question.stem", "expected a string, got a number");
    }

    [Fact]
    public void WinoGrande_Errors()
    {
        Fails(EvalTask.WinoGrande, """{"sentence": "A _ b.", "option1": "x", "option2": "y", "answer": "3"}""", "answer", "expected \"1\" or \"2\", got \"3\"");
        Fails(EvalTask.WinoGrande, """{"sentence": "A _ b.", "option1": "x", "option2": "y", "answer": ""}""", "answer", "the test split has no answers");
        Fails(EvalTask.WinoGrande, """{"sentence": "A _ b.", "option1": "x", "option2": "y", "answer": 3}""", "answer", "out of range");
        Fails(EvalTask.WinoGrande, """{"sentence": "A _ b.", "option1": "x", "answer": "1"}""", "option2", "missing");
        Fails(EvalTask.WinoGrande, """{"sentence": "A b.", "option1": "x", "option2": "y", "answer": "1"}""", "sentence", "has no \"_\"");
    }

    [Fact]
    public void Arc_HuggingFaceCopy_GivesTheSameRequests()
    {
        string path = Write("arc_hf.jsonl", """{"id": "x", "question": "Water freezes at what temperature in degrees Celsius?", "choices": {"text": ["100", "50", "0", "25"], "label": ["1", "2", "3", "4"]}, "answerKey": "3"}""");
        TaskItem hf = TaskReader.Read(EvalTask.ArcEasy, path)[0];
        TaskItem ai2 = TaskReader.Read(EvalTask.ArcEasy, EvalGoldens.Data("arc_easy.jsonl"))[3];
        Assert.Equal(ai2.Requests, hf.Requests);
        Assert.Equal(ai2.Gold, hf.Gold);
    }

    [Fact]
    public void NotJson_NamesTheLine()
    {
        string path = Write("x.jsonl", """{"text": "a b"}""", "", "{not json");
        var e = Assert.Throws<EvalDataException>(() => TaskReader.Read(EvalTask.LambadaOpenAI, path));
        Assert.Equal(3, e.Line);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void LoneSurrogateEscapes_AreErrorsNamingTheField()
    {
        // valid JSON whose string cannot be decoded to UTF-16: System.Text.Json parses the line, then throws when the
        // string is read (found by the eval-data fuzz target, docs/reliability.md)
        Fails(EvalTask.LambadaOpenAI, """{"text": "a \ud800 b"}""", "text", "not valid UTF-16");
        const string ok = """ "activity_label": "A", "ctx_a": "b", "ctx_b": "c" """;
        Fails(EvalTask.HellaSwag, "{" + ok + """, "endings": ["x", "y\udc00"], "label": 0}""", "endings", "lone surrogate");
        // in a property name, met when a lookup compares it with the name it seeks
        Fails(EvalTask.WinoGrande, """{"sentence": "a _ b", "option1": "c", "option2": "d", "answe\ud800r": "1"}""", "(a property name)", "not valid UTF-16");

        string docs = Write("docs.jsonl", """{"page": "fine"}""", """{"page": "bad \ud800"}""");
        var e = Assert.Throws<EvalDataException>(() => TaskReader.ReadDocuments(docs, pageOnly: true));
        Assert.Equal(2, e.Line);
        Assert.Equal("page", e.Field);
        Assert.Contains("not valid UTF-16", e.Message);
    }

    [Fact]
    public void Requests_AreTheHarnesss()
    {
        TaskItem lambada = TaskReader.Read(EvalTask.LambadaOpenAI, EvalGoldens.Data("lambada_openai.jsonl"))[4];
        Assert.Equal(new LoglikelihoodRequest("He said that the laws of the United States must be executed in every part of the", " country"), lambada.Requests[0]);

        TaskItem hs = TaskReader.Read(EvalTask.HellaSwag, EvalGoldens.Data("hellaswag.jsonl"))[1];
        Assert.Equal("Home and Garden: How to plant a tree. Dig a hole that is twice as wide as the root ball. place the tree in the hole", hs.Requests[0].Context); // capitalize() lowers the rest
        // "[substeps]" goes after the strip, so its space stays: the delimiter and that space
        Assert.Equal("  Fill the hole with soil and water it well.", hs.Requests[0].Continuation);
        Assert.Equal(" Paint the tree trunk with bright colors.", hs.Choices[2]); // no space before "[title]": the bracket rule removes it
        Assert.Equal("then  leave the garden and never come back.", hs.Choices[3]); // one pass of "  " → " " leaves two of three spaces

        TaskItem arc = TaskReader.Read(EvalTask.ArcEasy, EvalGoldens.Data("arc_easy.jsonl"))[3];
        Assert.Equal("Question: Water freezes at what temperature in degrees Celsius?\nAnswer:", arc.Requests[0].Context);
        Assert.Equal(2, arc.Gold);
        Assert.Equal(" 0", arc.Requests[2].Continuation);

        TaskItem wg = TaskReader.Read(EvalTask.WinoGrande, EvalGoldens.Data("winogrande.jsonl"))[0];
        Assert.Equal("The trophy does not fit in the suitcase because the trophy", wg.Requests[0].Context);
        Assert.Equal("The trophy does not fit in the suitcase because the suitcase", wg.Requests[1].Context);
        Assert.Equal(" is too small.", wg.Requests[0].Continuation);
        Assert.Equal(1, wg.Gold);
    }
}
