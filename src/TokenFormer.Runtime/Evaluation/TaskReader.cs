using System.Text.Json;
using TokenFormer.Core.IO;

namespace TokenFormer.Runtime.Evaluation;

/// <summary>
/// Reads a task's data file in the public format its authors distribute (JSON Lines; docs/evaluation.md lists the
/// fields) and turns each example into the requests lm-evaluation-harness makes of it: its prompt template, target
/// delimiter " ", HellaSwag's preprocessing, WinoGrande's partial scoring. Any line that does not fit throws
/// <see cref="EvalDataException"/> naming the file, line and field. Blank lines are skipped.
/// </summary>
public static class TaskReader
{
    /// <summary>The harness's target delimiter between context and choice.</summary>
    public const string TargetDelimiter = " ";

    /// <summary>Reads every example of <paramref name="task"/> from <paramref name="path"/>.</summary>
    public static IReadOnlyList<TaskItem> Read(EvalTask task, string path)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (!System.IO.File.Exists(path)) throw new EvalDataException(path, 0, "", "file not found");
        int[]? piqaLabels = task == EvalTask.Piqa ? ReadPiqaLabels(path) : null;
        var items = new List<TaskItem>();
        int lineNo = 0, example = 0;
        foreach (string line in System.IO.File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new EvalDataException(path, lineNo, "", $"not valid JSON ({e.Message})"); }
            using (doc)
            {
                var r = new Line(path, lineNo, doc.RootElement);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw r.Error("", $"expected a JSON object, got {Kind(doc.RootElement)}");
                try
                {
                    items.Add(task.Name switch
                    {
                        "lambada_openai" => Lambada(r),
                        "hellaswag" => HellaSwag(r),
                        "piqa" => Piqa(r, piqaLabels, example),
                        "arc_easy" or "arc_challenge" => Arc(r),
                        "winogrande" => WinoGrande(r),
                        _ => throw new ArgumentException($"unknown task '{task.Name}'"),
                    });
                }
                catch (InvalidOperationException) when (JsonStrings.FirstUndecodable(line) is { } at)
                {
                    throw r.Error(at.Field, JsonStrings.Problem);
                }
                example++;
            }
        }
        if (piqaLabels != null && piqaLabels.Length != example)
            throw new EvalDataException(PiqaLabelsPath(path), 0, "", $"has {piqaLabels.Length} labels but {path} has {example} examples");
        if (items.Count == 0) throw new EvalDataException(path, 0, "", "holds no examples");
        return items;
    }

    /// <summary>LAMBADA: context = every word but the last (split on single spaces), continuation = " " + the last word.</summary>
    private static TaskItem Lambada(Line r)
    {
        string text = r.String("text");
        int cut = text.LastIndexOf(' ');
        string context = cut < 0 ? "" : text[..cut];
        string target = " " + (cut < 0 ? text : text[(cut + 1)..]);
        return new TaskItem(r.Number, [new LoglikelihoodRequest(context, target)], 0, [target]);
    }

    /// <summary>HellaSwag: query = preprocess(activity_label + ": " + ctx_a + " " + capitalize(ctx_b)), choices = preprocessed endings.</summary>
    private static TaskItem HellaSwag(Line r)
    {
        string label = r.String("activity_label"), a = r.String("ctx_a"), b = r.String("ctx_b");
        JsonElement endings = r.Array("endings");
        if (endings.GetArrayLength() < 2) throw r.Error("endings", $"expected at least 2 endings, got {endings.GetArrayLength()}");
        var choices = new List<string>();
        int i = 0;
        foreach (JsonElement e in endings.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw r.Error($"endings[{i}]", $"expected a string, got {Kind(e)}");
            choices.Add(HarnessText.PreprocessHellaSwag(e.GetString()!));
            i++;
        }
        int gold = r.Index("label", choices.Count, "endings");
        string query = HarnessText.PreprocessHellaSwag(label + ": " + a + " " + HarnessText.Capitalize(b));
        return Choice(r.Number, query, choices, gold);
    }

    /// <summary>PIQA: "Question: {goal}\nAnswer:" with the choices sol1, sol2.</summary>
    private static TaskItem Piqa(Line r, int[]? labels, int example)
    {
        string goal = r.String("goal"), sol1 = r.String("sol1"), sol2 = r.String("sol2");
        int gold;
        if (r.Root.TryGetProperty("label", out _) || labels == null)
        {
            if (labels == null && !r.Root.TryGetProperty("label", out _))
                throw r.Error("label", $"missing (and there is no {Path.GetFileName(PiqaLabelsPath(r.File))} beside the file with one label per line)");
            gold = r.Index("label", 2, "solutions (sol1, sol2)");
        }
        else
        {
            if (example >= labels.Length) throw r.Error("label", $"no label for this example: {PiqaLabelsPath(r.File)} has only {labels.Length} labels");
            gold = labels[example];
        }
        return Choice(r.Number, $"Question: {goal}\nAnswer:", [sol1, sol2], gold);
    }

    /// <summary>ARC: "Question: {question.stem}\nAnswer:" with the choice texts; the gold is the choice whose label is answerKey.</summary>
    private static TaskItem Arc(Line r)
    {
        var texts = new List<string>();
        var labels = new List<string>();
        string stem;
        if (r.Root.TryGetProperty("question", out JsonElement qs) && qs.ValueKind == JsonValueKind.String)
        {
            // the Hugging Face copy (ai2_arc): "question" is the stem, "choices" is {"text": [...], "label": [...]}
            stem = qs.GetString()!;
            JsonElement c = r.Object("choices");
            JsonElement t = r.Array(c, "choices.text"), l = r.Array(c, "choices.label");
            if (t.GetArrayLength() != l.GetArrayLength())
                throw r.Error("choices.label", $"has {l.GetArrayLength()} labels for {t.GetArrayLength()} texts");
            for (int i = 0; i < t.GetArrayLength(); i++)
            {
                if (t[i].ValueKind != JsonValueKind.String) throw r.Error($"choices.text[{i}]", $"expected a string, got {Kind(t[i])}");
                if (l[i].ValueKind != JsonValueKind.String) throw r.Error($"choices.label[{i}]", $"expected a string, got {Kind(l[i])}");
                texts.Add(t[i].GetString()!);
                labels.Add(l[i].GetString()!);
            }
        }
        else
        {
            JsonElement q = r.Object("question");
            stem = r.String(q, "question.stem");
            JsonElement choices = r.Array(q, "question.choices");
            int i = 0;
            foreach (JsonElement c in choices.EnumerateArray())
            {
                string at = $"question.choices[{i}]";
                if (c.ValueKind != JsonValueKind.Object) throw r.Error(at, $"expected an object with \"text\" and \"label\", got {Kind(c)}");
                texts.Add(r.String(c, at + ".text"));
                labels.Add(r.String(c, at + ".label"));
                i++;
            }
        }
        if (texts.Count < 2) throw r.Error("question.choices", $"expected at least 2 choices, got {texts.Count}");
        string key = r.String("answerKey");
        int gold = labels.IndexOf(key);
        if (gold < 0) throw r.Error("answerKey", $"\"{key}\" is not one of the choice labels [{string.Join(", ", labels)}]");
        return Choice(r.Number, $"Question: {stem}\nAnswer:", texts, gold);
    }

    /// <summary>
    /// WinoGrande, partial scoring: the two contexts are the sentence up to the "_" with each option put in its place;
    /// the one continuation is " " + the rest of the sentence after the "_", stripped.
    /// </summary>
    private static TaskItem WinoGrande(Line r)
    {
        string sentence = r.String("sentence"), o1 = r.String("option1"), o2 = r.String("option2");
        int blank = sentence.IndexOf('_');
        if (blank < 0) throw r.Error("sentence", "has no \"_\" to put the options in");
        JsonElement answer = r.Field("answer");
        int gold = answer.ValueKind switch
        {
            JsonValueKind.String when answer.GetString() == "1" => 0,
            JsonValueKind.String when answer.GetString() == "2" => 1,
            JsonValueKind.Number when answer.TryGetInt32(out int v) && v is 1 or 2 => answer.GetInt32() - 1,
            JsonValueKind.String => throw r.Error("answer", $"expected \"1\" or \"2\", got \"{answer.GetString()}\"" +
                (answer.GetString()!.Length == 0 ? " (the test split has no answers; use dev.jsonl)" : "")),
            JsonValueKind.Number => throw r.Error("answer", $"expected \"1\" or \"2\", got {answer.GetRawText()} (out of range)"),
            _ => throw r.Error("answer", $"expected \"1\" or \"2\", got {Kind(answer)}"),
        };
        string target = TargetDelimiter + sentence[(blank + 1)..].Trim();
        string[] contexts = [sentence[..blank] + o1, sentence[..blank] + o2];
        return new TaskItem(r.Number, [new LoglikelihoodRequest(contexts[0], target), new LoglikelihoodRequest(contexts[1], target)], gold, contexts);
    }

    private static TaskItem Choice(int line, string context, IReadOnlyList<string> choices, int gold) =>
        new(line, choices.Select(c => new LoglikelihoodRequest(context, TargetDelimiter + c)).ToArray(), gold, choices);

    /// <summary>
    /// The documents of <c>--task perplexity</c> / <c>wikitext</c>: from a .jsonl file one per line, its "page" (WikiText)
    /// or, unless <paramref name="pageOnly"/>, "text" field; any other file is one document, its whole text.
    /// </summary>
    public static List<string> ReadDocuments(string path, bool pageOnly)
    {
        if (!System.IO.File.Exists(path)) throw new EvalDataException(path, 0, "", "file not found");
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)) return [System.IO.File.ReadAllText(path)];
        var docs = new List<string>();
        int n = 0;
        foreach (string line in System.IO.File.ReadLines(path))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using JsonDocument d = JsonDocument.Parse(line);
                if (d.RootElement.ValueKind != JsonValueKind.Object) throw new EvalDataException(path, n, "", "expected a JSON object");
                if (!d.RootElement.TryGetProperty("page", out JsonElement v) && (pageOnly || !d.RootElement.TryGetProperty("text", out v)))
                    throw new EvalDataException(path, n, "page", pageOnly ? "missing" : "missing (a document is the string in \"page\" or \"text\")");
                if (v.ValueKind != JsonValueKind.String) throw new EvalDataException(path, n, "page", $"expected a string, got {v.ValueKind}");
                docs.Add(v.GetString()!);
            }
            catch (JsonException e) { throw new EvalDataException(path, n, "", $"not valid JSON ({e.Message})"); }
            catch (InvalidOperationException) when (JsonStrings.FirstUndecodable(line) is { } at)
            {
                throw new EvalDataException(path, n, at.Field, JsonStrings.Problem);
            }
        }
        if (docs.Count == 0) throw new EvalDataException(path, 0, "", "holds no documents");
        return docs;
    }

    /// <summary>PIQA's labels file beside the data: valid.jsonl → valid-labels.lst.</summary>
    public static string PiqaLabelsPath(string path) =>
        Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + "-labels.lst");

    private static int[]? ReadPiqaLabels(string path)
    {
        string labels = PiqaLabelsPath(path);
        if (!System.IO.File.Exists(labels)) return null;
        var list = new List<int>();
        int n = 0;
        foreach (string line in System.IO.File.ReadLines(labels))
        {
            n++;
            string t = line.Trim();
            if (t.Length == 0) continue;
            if (t != "0" && t != "1") throw new EvalDataException(labels, n, "label", $"expected 0 or 1, got \"{t}\"");
            list.Add(t[0] - '0');
        }
        return list.ToArray();
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => e.ValueKind.ToString(),
    };

    /// <summary>One parsed line: typed field access that names file, line and field on failure.</summary>
    private readonly struct Line(string file, int number, JsonElement root)
    {
        public string File => file;
        public int Number => number;
        public JsonElement Root => root;

        public EvalDataException Error(string field, string problem) => new(file, number, field, problem);

        public JsonElement Field(string name) => Field(root, name, name);

        private JsonElement Field(JsonElement obj, string path, string name)
        {
            string key = name.Contains('.') ? name[(name.LastIndexOf('.') + 1)..] : name;
            if (!obj.TryGetProperty(key, out JsonElement v)) throw Error(path, "missing");
            return v;
        }

        public string String(string name) => String(root, name);

        public string String(JsonElement obj, string path)
        {
            JsonElement v = Field(obj, path, path);
            if (v.ValueKind != JsonValueKind.String) throw Error(path, $"expected a string, got {Kind(v)}");
            return v.GetString()!;
        }

        public JsonElement Array(string name) => Array(root, name);

        public JsonElement Array(JsonElement obj, string path)
        {
            JsonElement v = Field(obj, path, path);
            if (v.ValueKind != JsonValueKind.Array) throw Error(path, $"expected an array, got {Kind(v)}");
            return v;
        }

        public JsonElement Object(string name)
        {
            JsonElement v = Field(name);
            if (v.ValueKind != JsonValueKind.Object) throw Error(name, $"expected an object, got {Kind(v)}");
            return v;
        }

        /// <summary>An answer index in [0, count): a JSON integer or a string holding one (the Hugging Face copies store labels as strings).</summary>
        public int Index(string name, int count, string what)
        {
            JsonElement v = Field(name);
            long index;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n)) index = n;
            else if (v.ValueKind == JsonValueKind.String && long.TryParse(v.GetString(), System.Globalization.NumberStyles.None,
                         System.Globalization.CultureInfo.InvariantCulture, out long s)) index = s;
            else throw Error(name, $"expected an integer index, got {(v.ValueKind == JsonValueKind.String ? $"\"{v.GetString()}\"" : Kind(v))}");
            if (index < 0 || index >= count) throw Error(name, $"{index} is outside the {count} {what} [0, {count - 1}]");
            return (int)index;
        }
    }
}
