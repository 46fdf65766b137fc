namespace TokenFormer.Runtime.Evaluation;

/// <summary>
/// One question put to the model, as lm-evaluation-harness puts it: the log-likelihood of <see cref="Continuation"/>
/// given <see cref="Context"/> (both text; the continuation carries its leading target delimiter, usually a space).
/// </summary>
public sealed record LoglikelihoodRequest(string Context, string Continuation);

/// <summary>The answer to one <see cref="LoglikelihoodRequest"/>.</summary>
/// <param name="LogLikelihood">Σ log p(continuation token | everything before it), natural log.</param>
/// <param name="IsGreedy">Every continuation token is the argmax of its logits (greedy decoding would produce it).</param>
/// <param name="Tokens">Continuation tokens scored.</param>
public readonly record struct RequestScore(double LogLikelihood, bool IsGreedy, int Tokens);

/// <summary>
/// One example of a task: its requests (one for LAMBADA, one per choice otherwise), the index of the correct one, and
/// the strings whose lengths acc_norm divides by (the harness's choices).
/// </summary>
public sealed class TaskItem
{
    /// <summary>Creates an item.</summary>
    public TaskItem(int line, IReadOnlyList<LoglikelihoodRequest> requests, int gold, IReadOnlyList<string> choices)
    {
        Line = line; Requests = requests; Gold = gold; Choices = choices;
    }

    /// <summary>1-based line of the data file the item came from.</summary>
    public int Line { get; }
    /// <summary>The requests scored for this item.</summary>
    public IReadOnlyList<LoglikelihoodRequest> Requests { get; }
    /// <summary>Index of the correct request (0 for LAMBADA's single request).</summary>
    public int Gold { get; }
    /// <summary>The choice strings (lm-evaluation-harness's doc_to_choice); acc_norm divides by their lengths in characters.</summary>
    public IReadOnlyList<string> Choices { get; }
}
