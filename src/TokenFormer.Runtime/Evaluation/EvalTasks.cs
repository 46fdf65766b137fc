namespace TokenFormer.Runtime.Evaluation;

/// <summary>How a task is scored.</summary>
public enum TaskScoring
{
    /// <summary>One request per example: perplexity of the continuation and greedy accuracy (LAMBADA).</summary>
    Loglikelihood,
    /// <summary>One request per choice: acc (argmax of log-likelihood) and, when <see cref="EvalTask.HasAccNorm"/>, acc_norm.</summary>
    MultipleChoice,
}

/// <summary>A zero-shot task as lm-evaluation-harness defines it (docs/evaluation.md).</summary>
/// <param name="Name">The harness's task name.</param>
/// <param name="Scoring">Loglikelihood or multiple choice.</param>
/// <param name="HasAccNorm">Whether the task reports acc_norm.</param>
/// <param name="Format">One line describing the data file the task reads.</param>
public sealed record EvalTask(string Name, TaskScoring Scoring, bool HasAccNorm, string Format)
{
    /// <summary>LAMBADA (OpenAI's detokenised test set): last-word perplexity and accuracy.</summary>
    public static readonly EvalTask LambadaOpenAI = new("lambada_openai", TaskScoring.Loglikelihood, false,
        "lambada_test.jsonl: one JSON object per line with \"text\" (string)");
    /// <summary>HellaSwag (validation set).</summary>
    public static readonly EvalTask HellaSwag = new("hellaswag", TaskScoring.MultipleChoice, true,
        "hellaswag_val.jsonl: \"activity_label\", \"ctx_a\", \"ctx_b\" (strings), \"endings\" (array of strings), \"label\" (index)");
    /// <summary>PIQA (validation set).</summary>
    public static readonly EvalTask Piqa = new("piqa", TaskScoring.MultipleChoice, true,
        "valid.jsonl: \"goal\", \"sol1\", \"sol2\" (strings) and \"label\" (0 or 1), or the label per line in valid-labels.lst beside it");
    /// <summary>ARC-Easy.</summary>
    public static readonly EvalTask ArcEasy = new("arc_easy", TaskScoring.MultipleChoice, true,
        "ARC-Easy-Test.jsonl: \"question\" {\"stem\", \"choices\": [{\"text\", \"label\"}]}, \"answerKey\" (one of the labels)");
    /// <summary>ARC-Challenge.</summary>
    public static readonly EvalTask ArcChallenge = new("arc_challenge", TaskScoring.MultipleChoice, true,
        "ARC-Challenge-Test.jsonl: \"question\" {\"stem\", \"choices\": [{\"text\", \"label\"}]}, \"answerKey\" (one of the labels)");
    /// <summary>WinoGrande (dev set of the XL release), partial scoring.</summary>
    public static readonly EvalTask WinoGrande = new("winogrande", TaskScoring.MultipleChoice, false,
        "dev.jsonl: \"sentence\" (with one \"_\"), \"option1\", \"option2\" (strings), \"answer\" (\"1\" or \"2\")");

    /// <summary>Every task, in the order of the paper's Table 1.</summary>
    public static IReadOnlyList<EvalTask> All { get; } = [LambadaOpenAI, HellaSwag, Piqa, ArcEasy, ArcChallenge, WinoGrande];

    /// <summary>The task called <paramref name="name"/>, or null.</summary>
    public static EvalTask? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
