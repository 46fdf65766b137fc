namespace TokenFormer.Cli;

/// <summary>
/// Ctrl+C for long jobs (train, finetune, quickstart): the first press cancels <see cref="Token"/> so the job stops after
/// its current step (and saves what it saves), printing what will happen; a second press ends the process as usual.
/// Disposing unsubscribes, so a later Ctrl+C is the default again.
/// </summary>
internal sealed class CtrlCInterrupt : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly string _what;

    /// <param name="what">What the job does on the first press, e.g. "saving a checkpoint after this step".</param>
    public CtrlCInterrupt(string what)
    {
        _what = what;
        Console.CancelKeyPress += OnCancel;
    }

    /// <summary>Cancelled by the first Ctrl+C.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>Whether Ctrl+C was pressed.</summary>
    public bool Requested => _source.IsCancellationRequested;

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (_source.IsCancellationRequested) return;
        e.Cancel = true;
        _source.Cancel();
        Console.Error.WriteLine($"\ninterrupt: {_what} (Ctrl+C again to abort)");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _source.Dispose();
    }
}
