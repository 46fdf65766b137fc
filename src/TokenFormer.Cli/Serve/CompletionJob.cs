using System.Threading.Channels;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// One request's prompts waiting in (or taken from) the <see cref="CompletionQueue"/>. The worker reports pieces
/// through <see cref="Pieces"/> (streaming requests only) and the final result through <see cref="Result"/>.
/// </summary>
public sealed class CompletionJob
{
    private readonly TaskCompletionSource<EngineCompletion[]> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<TextPiece>? _pieces;

    public CompletionJob(IReadOnlyList<string> prompts, CompletionSettings settings, bool stream, CancellationToken cancel)
    {
        if (prompts.Count == 0) throw new ArgumentException("a job needs at least one prompt", nameof(prompts));
        Prompts = prompts;
        Settings = settings;
        Cancel = cancel;
        if (stream) _pieces = Channel.CreateUnbounded<TextPiece>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    }

    /// <summary>The prompts, answered in this order.</summary>
    public IReadOnlyList<string> Prompts { get; }
    public CompletionSettings Settings { get; }
    /// <summary>Index of the model (in <see cref="ICompletionEngine.ModelIds"/>) that answers the job; 0 is the default model.</summary>
    public int ModelIndex { get; init; }
    /// <summary>Fires when the client goes away; the worker drops or stops the job.</summary>
    public CancellationToken Cancel { get; }
    /// <summary>Decoded pieces as they are produced (null for non-streaming jobs); completed when the job ends.</summary>
    public ChannelReader<TextPiece>? Pieces => _pieces?.Reader;
    /// <summary>One completion per prompt; faults or cancels like the generation did.</summary>
    public Task<EngineCompletion[]> Result => _result.Task;

    internal void ReportPiece(int promptIndex, string text) => _pieces?.Writer.TryWrite(new TextPiece(promptIndex, text));

    internal void Succeed(EngineCompletion[] results)
    {
        _pieces?.Writer.TryComplete();
        _result.TrySetResult(results);
    }

    internal void Fail(Exception e)
    {
        _pieces?.Writer.TryComplete(e);
        if (e is OperationCanceledException) _result.TrySetCanceled();
        else _result.TrySetException(e);
    }
}

/// <summary>Decoded text <see cref="Text"/> produced for prompt <see cref="PromptIndex"/> of a job.</summary>
public readonly record struct TextPiece(int PromptIndex, string Text);
