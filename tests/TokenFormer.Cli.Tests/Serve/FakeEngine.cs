using TokenFormer.Cli.Serve;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>
/// A deterministic <see cref="ICompletionEngine"/>: a prompt is as many tokens as it has characters, and its
/// completion is the pieces "&lt;p&gt;0 ", "&lt;p&gt;1 ", … where p is the prompt's first character (so a mixed-up batch shows).
/// A stop string ends the text before it (finish "stop"). Optionally waits on <see cref="Gate"/> before generating
/// and sleeps between pieces, observing cancellation.
/// </summary>
internal sealed class FakeEngine(int contextLength = 64, int maxBatch = 8) : ICompletionEngine
{
    private readonly object _lock = new();
    private readonly List<int> _batchSizes = [];

    public string ModelId => "fake-model";
    public int ContextLength => contextLength;
    public int MaxBatch => maxBatch;

    /// <summary>When set, each Complete call waits for one release before producing anything.</summary>
    public SemaphoreSlim? Gate { get; set; }
    /// <summary>Pause between pieces.</summary>
    public TimeSpan PieceDelay { get; set; }
    /// <summary>Signalled when a Complete call has started (before the gate).</summary>
    public SemaphoreSlim Started { get; } = new(0);
    /// <summary>Completed when a Complete call has seen its cancellation token fire.</summary>
    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Prompts per Complete call so far.</summary>
    public int[] BatchSizes { get { lock (_lock) return _batchSizes.ToArray(); } }

    public int CountTokens(string prompt) => prompt.Length;

    /// <summary>The completion text this engine produces for <paramref name="prompt"/> (no stop strings).</summary>
    public static string Expected(string prompt, int maxTokens) =>
        string.Concat(Enumerable.Range(0, maxTokens).Select(i => $"{prompt[0]}{i} "));

    public EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel)
    {
        lock (_lock) _batchSizes.Add(prompts.Count);
        Started.Release();
        try
        {
            Gate?.Wait(cancel);
            var texts = prompts.Select(_ => "").ToArray();
            var done = new string?[prompts.Count];
            int[] counts = new int[prompts.Count];
            for (int step = 0; step < settings.MaxTokens; step++)
            {
                if (PieceDelay > TimeSpan.Zero) Task.Delay(PieceDelay, cancel).GetAwaiter().GetResult();
                cancel.ThrowIfCancellationRequested();
                for (int p = 0; p < prompts.Count; p++)
                {
                    if (done[p] is not null) continue;
                    string piece = $"{prompts[p][0]}{step} ";
                    counts[p]++;
                    string candidate = texts[p] + piece;
                    int cut = settings.Stop.Select(s => candidate.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
                    if (cut >= 0)
                    {
                        if (cut > texts[p].Length) onText?.Invoke(p, candidate[texts[p].Length..cut]);
                        texts[p] = candidate[..cut];
                        done[p] = "stop";
                        continue;
                    }
                    texts[p] = candidate;
                    onText?.Invoke(p, piece);
                }
            }
            return prompts.Select((prompt, p) => new EngineCompletion(texts[p], done[p] ?? "length", prompt.Length, counts[p])).ToArray();
        }
        catch (OperationCanceledException)
        {
            Cancelled.TrySetResult();
            throw;
        }
    }
}
