namespace TokenFormer.Runtime.Evaluation;

/// <summary>
/// A task data file does not have the shape its task expects: names the file, the line (1-based), the field and what
/// was expected, e.g. <c>hellaswag.jsonl:12: label: 4 is outside the 4 endings [0, 3]</c>.
/// </summary>
public sealed class EvalDataException : Exception
{
    /// <summary>The data file.</summary>
    public string File { get; }
    /// <summary>1-based line number (0 when the problem concerns the whole file).</summary>
    public int Line { get; }
    /// <summary>The field (a JSON path such as <c>question.choices[2].text</c>), or empty.</summary>
    public string Field { get; }

    /// <summary>Creates the error; the message reads <c>FILE:LINE: FIELD: problem</c>.</summary>
    public EvalDataException(string file, int line, string field, string problem)
        : base($"{file}{(line > 0 ? ":" + line : "")}: {(field.Length > 0 ? field + ": " : "")}{problem}")
    {
        File = file; Line = line; Field = field;
    }
}
