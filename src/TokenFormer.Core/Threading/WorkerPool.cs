using System.Diagnostics;

namespace TokenFormer.Core.Threading;

/// <summary>
/// Persistent worker threads that spin briefly between jobs and then park, so that back-to-back
/// parallel calls cost about a microsecond instead of a thread wake-up (hundreds of µs on a VM).
/// The calling thread takes part in every job and waits only for items that were actually started:
/// a worker that is descheduled or asleep when a job arrives never holds the job up.
/// </summary>
/// <remarks>
/// Items are claimed with a compare-and-swap on one 64-bit word holding (job generation, next index), so a
/// worker that wakes late for an old job can never claim an item of a newer one with the old job's body; the word
/// is closed (a fresh generation with an unreachable index) before a new job's body and count are published, so
/// a late worker can neither pair the old job's index with the new job's body.
/// </remarks>
internal sealed class WorkerPool : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency * ReadSpinMicroseconds() / 1_000_000;

    private readonly Thread[] _threads;
    private readonly object _parkLock = new();
    private IParallelWork? _work;
    private int _count;
    private long _state;     // (generation << 32) | next unclaimed index
    private int _done;       // items finished in the current job
    private int _parked;
    private int _busy;
    private volatile bool _disposed;
    private Exception? _error;
    [ThreadStatic] private static bool _insideJob;

    public WorkerPool(int workers)
    {
        _threads = new Thread[workers];
        for (int i = 0; i < workers; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"tokenformer-worker-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>
    /// Runs the job on the pool; false when the pool is busy with another job (a call from another thread, or
    /// a nested call from inside a work item), in which case the caller should run the items itself.
    /// </summary>
    public bool TryRun(int count, IParallelWork work)
    {
        if (_insideJob || Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return false;
        _insideJob = true;
        try
        {
            // Close the previous job's claim word before publishing the new job: a worker that read it as
            // (old generation, next index = old count) and then the new, larger _count would otherwise find that
            // index claimable and run an item of the new work that nobody waits for. Closed = a generation of its
            // own with an index no job reaches; the job then opens under the generation after it.
            long closed = (Volatile.Read(ref _state) >> 32) + 1;
            Interlocked.Exchange(ref _state, (closed << 32) | int.MaxValue);
            _work = work;
            _count = count;
            _error = null;
            Volatile.Write(ref _done, 0);
            long generation = closed + 1;
            Interlocked.Exchange(ref _state, generation << 32); // publishes _work and _count
            if (Volatile.Read(ref _parked) > 0)
                lock (_parkLock) Monitor.PulseAll(_parkLock);

            Drain(generation);

            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < count) spin.SpinOnce(-1);
            _work = null;
            if (_error is { } e) throw new AggregateException("a parallel work item failed", e);
            return true;
        }
        finally
        {
            _insideJob = false;
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Claims and runs items of job <paramref name="generation"/> until none is left.</summary>
    private void Drain(long generation)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            if (state >> 32 != generation) return;
            IParallelWork? work = _work;
            int count = _count;
            int index = (int)(state & 0xFFFF_FFFF);
            if (index >= count || work is null) return;
            if (Interlocked.CompareExchange(ref _state, state + 1, state) != state) continue;
            // The claim succeeded while the job was still open, so work and count belong to it.
            try { work.Execute(index); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            Interlocked.Increment(ref _done);
        }
    }

    private void WorkerLoop()
    {
        _insideJob = true; // a work item running here that calls Parallelism.For runs its items serially
        long seen = Volatile.Read(ref _state) >> 32;
        while (!_disposed)
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _state) >> 32 == seen && !_disposed)
            {
                if (Stopwatch.GetTimestamp() - start > SpinTicks)
                {
                    lock (_parkLock)
                    {
                        Interlocked.Increment(ref _parked);
                        while (Volatile.Read(ref _state) >> 32 == seen && !_disposed) Monitor.Wait(_parkLock);
                        Interlocked.Decrement(ref _parked);
                    }
                    break;
                }
                Thread.SpinWait(16);
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _state) >> 32;
            Drain(seen);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        lock (_parkLock) Monitor.PulseAll(_parkLock);
    }

    private static long ReadSpinMicroseconds()
    {
        string? v = Environment.GetEnvironmentVariable("TOKENFORMER_SPIN_US");
        return long.TryParse(v, out long us) && us >= 0 ? us : 2000;
    }
}
