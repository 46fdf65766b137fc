using System.Threading.Channels;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// A bounded FIFO of <see cref="CompletionJob"/>s drained by one worker thread that owns the (not thread-safe)
/// <see cref="ICompletionEngine"/>. Consecutive jobs with compatible settings are generated together, up to
/// <c>maxBatch</c> prompts. A job whose client has gone is skipped; a prompt whose client goes while it is generated
/// stops before its next decode step (the engine's per-prompt cancellation); a running batch is cancelled once every
/// one of its clients has gone, or when the queue stops.
/// </summary>
public sealed class CompletionQueue : IDisposable
{
    private readonly ICompletionEngine _engine;
    private readonly Channel<CompletionJob> _channel;
    private readonly int _maxBatch;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _worker;
    private int _queued, _running;
    private long _completed, _failed, _batches;

    /// <param name="engine">Used by the worker thread only.</param>
    /// <param name="maxQueue">Jobs that may wait beyond the batch being generated.</param>
    /// <param name="maxBatch">Most prompts per engine call (capped at the engine's MaxBatch).</param>
    public CompletionQueue(ICompletionEngine engine, int maxQueue, int maxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueue, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _engine = engine;
        _maxBatch = Math.Min(maxBatch, engine.MaxBatch);
        MaxQueue = maxQueue;
        _channel = Channel.CreateBounded<CompletionJob>(new BoundedChannelOptions(maxQueue)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false,
        });
        _worker = new Thread(Work) { IsBackground = true, Name = "tokenformer-serve-worker" };
        _worker.Start();
    }

    public int MaxQueue { get; }
    /// <summary>Jobs waiting now.</summary>
    public int Queued => Volatile.Read(ref _queued);
    /// <summary>Prompts being generated now.</summary>
    public int Running => Volatile.Read(ref _running);
    /// <summary>Jobs finished without error since start.</summary>
    public long Completed => Interlocked.Read(ref _completed);
    /// <summary>Jobs that failed or were cancelled since start.</summary>
    public long Failed => Interlocked.Read(ref _failed);
    /// <summary>Engine calls made since start.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Adds <paramref name="job"/>; false when the queue is full (or stopping).</summary>
    public bool TryEnqueue(CompletionJob job)
    {
        Interlocked.Increment(ref _queued);
        if (_channel.Writer.TryWrite(job)) return true;
        Interlocked.Decrement(ref _queued);
        return false;
    }

    /// <summary>Stops accepting jobs, cancels the batch in progress and fails the waiting jobs; waits for the worker.</summary>
    public void Stop(TimeSpan timeout)
    {
        _channel.Writer.TryComplete();
        _stopping.Cancel();
        _worker.Join(timeout);
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(10));
        _stopping.Dispose();
    }

    private void Work()
    {
        ChannelReader<CompletionJob> reader = _channel.Reader;
        var batch = new List<CompletionJob>();
        while (true)
        {
            try
            {
                if (!reader.WaitToReadAsync(_stopping.Token).AsTask().GetAwaiter().GetResult()) break;
            }
            catch (OperationCanceledException)
            {
                break;
            }
            batch.Clear();
            int prompts = 0;
            while (reader.TryPeek(out CompletionJob? next))
            {
                if (next.Cancel.IsCancellationRequested) { Take(reader); Finish(next, new OperationCanceledException(next.Cancel)); continue; }
                if (batch.Count > 0 && (!next.Settings.CanShareBatchWith(batch[0].Settings) || prompts + next.Prompts.Count > _maxBatch)) break;
                Take(reader);
                batch.Add(next);
                prompts += next.Prompts.Count;
                if (prompts >= _maxBatch) break;
            }
            if (batch.Count > 0) Run(batch, prompts);
        }
        // Stopping: whatever is still queued gets cancelled.
        while (reader.TryRead(out CompletionJob? left))
        {
            Interlocked.Decrement(ref _queued);
            Finish(left, new OperationCanceledException("the server is shutting down"));
        }
    }

    private void Take(ChannelReader<CompletionJob> reader)
    {
        reader.TryRead(out _);
        Interlocked.Decrement(ref _queued);
    }

    /// <summary>Generates for every prompt of <paramref name="batch"/> (a lone job may exceed the batch size: split in chunks).</summary>
    private void Run(List<CompletionJob> batch, int promptCount)
    {
        Interlocked.Add(ref _running, promptCount);
        using var allGone = new AllCancelled(batch, _stopping.Token);
        try
        {
            var prompts = new List<string>(promptCount);
            var owner = new List<(CompletionJob Job, int Index)>(promptCount);
            var models = new List<int>(promptCount);
            foreach (CompletionJob job in batch)
                for (int i = 0; i < job.Prompts.Count; i++) { prompts.Add(job.Prompts[i]); owner.Add((job, i)); models.Add(job.ModelIndex); }

            CompletionSettings settings = batch[0].Settings;
            int seed = settings.Seed ?? Random.Shared.Next();
            var results = new EngineCompletion[prompts.Count];
            for (int start = 0; start < prompts.Count; start += _maxBatch)
            {
                int count = Math.Min(_maxBatch, prompts.Count - start);
                int offset = start;
                Interlocked.Increment(ref _batches);
                // each prompt also carries its own client's token, so one disconnect ends that sequence within a
                // decode step while the rest of the batch goes on
                CancellationToken[] promptCancel = owner.GetRange(start, count).Select(o => o.Job.Cancel).ToArray();
                EngineCompletion[] part = _engine.Complete(prompts.GetRange(start, count), models.GetRange(start, count), settings, seed,
                    (i, text) => { var (job, index) = owner[offset + i]; job.ReportPiece(index, text); }, allGone.Token, promptCancel);
                if (part.Length != count) throw new InvalidOperationException($"the engine returned {part.Length} completions for {count} prompts");
                part.CopyTo(results, start);
            }
            int at = 0;
            foreach (CompletionJob job in batch)
            {
                // a job whose client left got its prompts cut short ("cancelled"): it counts as cancelled, not completed
                if (job.Cancel.IsCancellationRequested) Finish(job, new OperationCanceledException(job.Cancel));
                else Finish(job, results.AsSpan(at, job.Prompts.Count).ToArray());
                at += job.Prompts.Count;
            }
        }
        catch (Exception e)
        {
            foreach (CompletionJob job in batch) Finish(job, e);
        }
        finally
        {
            Interlocked.Add(ref _running, -promptCount);
        }
    }

    private void Finish(CompletionJob job, EngineCompletion[] results)
    {
        Interlocked.Increment(ref _completed);
        job.Succeed(results);
    }

    private void Finish(CompletionJob job, Exception e)
    {
        Interlocked.Increment(ref _failed);
        job.Fail(e);
    }

    /// <summary>A token that fires when every job of a batch has been cancelled by its client, or when the server stops.</summary>
    private sealed class AllCancelled : IDisposable
    {
        private readonly CancellationTokenSource _cts;
        private readonly List<CancellationTokenRegistration> _registrations = [];
        private int _remaining;

        public AllCancelled(List<CompletionJob> jobs, CancellationToken stopping)
        {
            _cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            _remaining = jobs.Count;
            foreach (CompletionJob job in jobs)
                _registrations.Add(job.Cancel.Register(() =>
                {
                    if (Interlocked.Decrement(ref _remaining) == 0) _cts.Cancel();
                }));
        }

        public CancellationToken Token => _cts.Token;

        public void Dispose()
        {
            foreach (CancellationTokenRegistration r in _registrations) r.Dispose();
            _cts.Dispose();
        }
    }
}
