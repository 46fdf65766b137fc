using System.Diagnostics;

namespace TokenFormer.Core.Threading;

/// <summary>
/// Persistent worker threads that spin briefly between jobs and then park, so that back-to-back
/// parallel calls cost about a microsecond instead of a thread wake-up (hundreds of µs on a VM).
/// The calling thread takes part in every job.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency * ReadSpinMicroseconds() / 1_000_000;

    private readonly Thread[] _threads;
    private readonly object _parkLock = new();
    private int _busy;
    [ThreadStatic] private static bool _insideJob;
    private IParallelWork? _work;
    private int _count;
    private int _next;
    private int _pending;
    private int _parked;
    private int _generation;
    private volatile bool _disposed;
    private Exception? _error;

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
            _work = work;
            _count = count;
            _error = null;
            Volatile.Write(ref _next, 0);
            Volatile.Write(ref _pending, _threads.Length);
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _parked) > 0)
                lock (_parkLock) Monitor.PulseAll(_parkLock);

            Drain();

            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) > 0) spin.SpinOnce(-1);
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

    private void Drain()
    {
        IParallelWork work = _work!;
        int count = _count;
        while (true)
        {
            int i = Interlocked.Increment(ref _next) - 1;
            if (i >= count) return;
            try { work.Execute(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
        }
    }

    private void WorkerLoop()
    {
        _insideJob = true; // a work item running here that calls Parallelism.For runs its items serially
        int seen = Volatile.Read(ref _generation);
        while (!_disposed)
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (Stopwatch.GetTimestamp() - start > SpinTicks)
                {
                    lock (_parkLock)
                    {
                        Interlocked.Increment(ref _parked);
                        while (Volatile.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_parkLock);
                        Interlocked.Decrement(ref _parked);
                    }
                    break;
                }
                Thread.SpinWait(16);
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            Drain();
            Interlocked.Decrement(ref _pending);
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
