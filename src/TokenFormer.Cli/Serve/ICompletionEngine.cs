namespace TokenFormer.Cli.Serve;

/// <summary>
/// Text completion as the server needs it: tokenise, generate for a batch of prompts, stream decoded pieces.
/// <see cref="Complete"/> is called from one worker thread only (implementations need not be thread-safe there);
/// <see cref="CountTokens"/> is called concurrently from request threads and must be thread-safe.
/// </summary>
public interface ICompletionEngine
{
    /// <summary>The model's name in /v1/models and responses.</summary>
    string ModelId { get; }

    /// <summary>Positions available per sequence: prompt tokens + max_tokens must not exceed this.</summary>
    int ContextLength { get; }

    /// <summary>Most prompts one <see cref="Complete"/> call accepts.</summary>
    int MaxBatch { get; }

    /// <summary>Number of tokens <paramref name="prompt"/> encodes to. Thread-safe.</summary>
    int CountTokens(string prompt);

    /// <summary>
    /// Generates a completion for each prompt (prompts.Count ≤ <see cref="MaxBatch"/>). <paramref name="onText"/>
    /// (promptIndex, piece) receives decoded text as it is produced (whole characters; stop strings excluded).
    /// Throws <see cref="OperationCanceledException"/> when <paramref name="cancel"/> fires.
    /// </summary>
    EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel);

    /// <summary>
    /// As <see cref="Complete(IReadOnlyList{string}, CompletionSettings, int, Action{int, string}?, CancellationToken)"/>,
    /// with one token per prompt (<paramref name="promptCancel"/>, its client's disconnect) that ends that prompt's
    /// generation before its next decode step while the rest of the batch goes on. The default ignores
    /// <paramref name="promptCancel"/> (the batch then stops only when <paramref name="cancel"/> fires).
    /// </summary>
    EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel, IReadOnlyList<CancellationToken> promptCancel) =>
        Complete(prompts, settings, seed, onText, cancel);

    /// <summary>
    /// A prompt longer than this (in UTF-16 characters) cannot fit <see cref="ContextLength"/> whatever it encodes to,
    /// so the server refuses it before tokenizing it. The default, <see cref="int.MaxValue"/>, checks nothing early.
    /// </summary>
    int MaxPromptChars => int.MaxValue;
}

/// <summary>One prompt's result: the generated text, "stop" or "length", and token counts.</summary>
public sealed record EngineCompletion(string Text, string FinishReason, int PromptTokens, int CompletionTokens);
