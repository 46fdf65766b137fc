using System.Collections.Concurrent;
using TokenFormer.Cli.Serve;

namespace TokenFormer.Cli.Tests.Reliability;

/// <summary>
/// The real <see cref="TextGeneratorEngine"/> (the library's generation loop), watched: for every prompt it records
/// how many decode steps the generator had run for the call when the prompt's client went away, and how many tokens
/// the prompt got in the end, so a test can count the steps generated for nobody. <see cref="HoldAt"/> makes the
/// disconnect land mid-generation whatever the machine's speed: when prompt P has produced N pieces, the worker waits
/// (at most 20 s) until the server has seen P's client go, then goes on; <see cref="Gate"/> holds the first call.
/// </summary>
internal sealed class WatchedEngine(TextGeneratorEngine inner) : ICompletionEngine
{
    /// <summary>One prompt of one call: decode steps of the call when its client left (null: it did not), and the result.</summary>
    public sealed record Record(string Prompt, long? StepsAtDisconnect, long StepsInCall, int? Tokens, string? Finish);

    public string ModelId => inner.ModelId;
    public int ContextLength => inner.ContextLength;
    public int MaxBatch => inner.MaxBatch;
    public int MaxPromptChars => inner.MaxPromptChars;
    /// <summary>Prompt → the piece after which the worker waits for that prompt's client to have gone.</summary>
    public Dictionary<string, int> HoldAt { get; } = [];
    /// <summary>When set, the first call waits for one release.</summary>
    public SemaphoreSlim? Gate { get; set; }
    public ConcurrentQueue<Record> Records { get; } = new();
    /// <summary>CountTokens calls so far (a prompt refused early must not be tokenized).</summary>
    public int Counted => Volatile.Read(ref _counted);
    private int _counted, _calls;

    public int CountTokens(string prompt)
    {
        Interlocked.Increment(ref _counted);
        return inner.CountTokens(prompt);
    }

    public EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel) =>
        Complete(prompts, settings, seed, onText, cancel, prompts.Select(_ => CancellationToken.None).ToArray());

    public EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel, IReadOnlyList<CancellationToken> promptCancel)
    {
        if (Interlocked.Increment(ref _calls) == 1) Gate?.Wait(cancel);
        var generator = inner.Generator.Generator;
        long start = generator.DecodeSteps;
        var atDisconnect = new long?[prompts.Count];
        // A held prompt waits for this callback to have run, not for the token's wait handle: a cancellation sets the
        // handle before it runs the callbacks, and disposing a registration whose callback has not started drops it, so
        // waiting on the handle could record a disconnect the server did see as unseen.
        var seen = prompts.Select(_ => new ManualResetEventSlim()).ToArray();
        var registrations = new List<CancellationTokenRegistration>();
        for (int i = 0; i < prompts.Count; i++)
        {
            int p = i;
            registrations.Add(promptCancel[i].Register(() => { atDisconnect[p] = generator.DecodeSteps - start; seen[p].Set(); }));
        }
        try
        {
            var pieces = new int[prompts.Count];
            var held = new bool[prompts.Count];
            EngineCompletion[] results = inner.Complete(prompts, settings, seed, (i, text) =>
            {
                onText?.Invoke(i, text);
                // A prompt holds once it has reached its piece and every prompt of the call has shown one: a stream's
                // headers go out with its first piece, and some prompts' first tokens are incomplete UTF-8 that shows
                // no text yet, so holding earlier would keep their clients waiting for headers until the hold times out.
                pieces[i]++;
                if (HoldAt.TryGetValue(prompts[i], out int n) && !held[i] && pieces[i] >= n && pieces.All(c => c > 0))
                {
                    held[i] = true;
                    seen[i].Wait(TimeSpan.FromSeconds(20));
                }
            }, cancel, promptCancel);
            foreach (var r in registrations) r.Dispose();
            for (int i = 0; i < prompts.Count; i++)
                Records.Enqueue(new Record(prompts[i], atDisconnect[i], generator.DecodeSteps - start, results[i].CompletionTokens, results[i].FinishReason));
            return results;
        }
        catch (OperationCanceledException)
        {
            foreach (var r in registrations) r.Dispose();
            for (int i = 0; i < prompts.Count; i++)
                Records.Enqueue(new Record(prompts[i], atDisconnect[i], generator.DecodeSteps - start, null, null));
            throw;
        }
    }
}

/// <summary>
/// An engine whose prompts starting with "flood" produce max_tokens pieces of 64 KiB at once (more than the socket
/// buffers hold, so a client that does not read blocks the server's writes), and whose other prompts produce short
/// pieces "&lt;first character&gt;&lt;step&gt; " like <see cref="Serve.FakeEngine"/>.
/// </summary>
internal sealed class FloodEngine : ICompletionEngine
{
    public const int PieceBytes = 64 * 1024;
    private static readonly string Big = new('x', PieceBytes);

    public string ModelId => "flood";
    public int ContextLength => 10_000;
    public int MaxBatch => 8;
    public int CountTokens(string prompt) => prompt.Length;
    /// <summary>Calls that returned.</summary>
    public int Finished => Volatile.Read(ref _finished);
    private int _finished;

    public EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel)
    {
        var texts = new System.Text.StringBuilder[prompts.Count];
        for (int p = 0; p < prompts.Count; p++) texts[p] = new System.Text.StringBuilder();
        for (int step = 0; step < settings.MaxTokens; step++)
        {
            cancel.ThrowIfCancellationRequested();
            for (int p = 0; p < prompts.Count; p++)
            {
                string piece = prompts[p].StartsWith("flood", StringComparison.Ordinal) ? Big : $"{prompts[p][0]}{step} ";
                if (piece.Length < 100) texts[p].Append(piece);
                onText?.Invoke(p, piece);
            }
        }
        Interlocked.Increment(ref _finished);
        return prompts.Select((prompt, p) => new EngineCompletion(texts[p].ToString(), "length", prompt.Length, settings.MaxTokens)).ToArray();
    }
}
