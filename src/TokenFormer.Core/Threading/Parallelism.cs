namespace TokenFormer.Core.Threading;

/// <summary>
/// Process-wide thread settings and the entry point for parallel loops over work items.
/// The thread count defaults to <see cref="Environment.ProcessorCount"/>; the environment variable
/// <c>TOKENFORMER_THREADS</c> or <see cref="SetThreadCount"/> (the CLI's <c>--threads</c>) override it.
/// </summary>
public static class Parallelism
{
    /// <summary>Name of the environment variable that sets the default thread count.</summary>
    public const string ThreadsEnvironmentVariable = "TOKENFORMER_THREADS";

    private static readonly object Gate = new();
    private static WorkerPool? _pool;
    private static int _threadCount = DefaultThreadCount();

    /// <summary>Number of threads (the caller included) that parallel loops use.</summary>
    public static int ThreadCount => _threadCount;

    /// <summary>Sets the number of threads parallel loops use (1 = run everything on the caller).</summary>
    public static void SetThreadCount(int threads)
    {
        if (threads < 1 || threads > 1024)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "thread count must be between 1 and 1024");
        lock (Gate)
        {
            if (threads == _threadCount) return;
            _threadCount = threads;
            _pool?.Dispose();
            _pool = null;
        }
    }

    /// <summary>
    /// Runs <c>work.Execute(i)</c> for every i in [0, count), spread over <see cref="ThreadCount"/> threads,
    /// and returns when all are done. Indices are claimed dynamically, so items may be uneven.
    /// Allocation-free: <paramref name="work"/> is a reusable object. A call made while the pool is busy
    /// (nested, or from another thread) runs serially on the calling thread.
    /// </summary>
    public static void For(int count, IParallelWork work)
    {
        if (count <= 0) return;
        int threads = _threadCount;
        if (count == 1 || threads == 1)
        {
            for (int i = 0; i < count; i++) work.Execute(i);
            return;
        }
        WorkerPool pool = _pool ?? CreatePool();
        if (!pool.TryRun(count, work))
            for (int i = 0; i < count; i++) work.Execute(i);
    }

    private static WorkerPool CreatePool()
    {
        lock (Gate)
        {
            return _pool ??= new WorkerPool(_threadCount - 1);
        }
    }

    private static int DefaultThreadCount()
    {
        string? value = Environment.GetEnvironmentVariable(ThreadsEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(value))
        {
            if (int.TryParse(value, out int n) && n >= 1 && n <= 1024) return n;
            throw new InvalidOperationException(
                $"environment variable {ThreadsEnvironmentVariable}='{value}' is not a thread count between 1 and 1024");
        }
        return Math.Max(1, Environment.ProcessorCount);
    }
}

/// <summary>A loop body for <see cref="Parallelism.For"/>: one call per work item.</summary>
public interface IParallelWork
{
    /// <summary>Performs work item <paramref name="index"/>.</summary>
    void Execute(int index);
}
