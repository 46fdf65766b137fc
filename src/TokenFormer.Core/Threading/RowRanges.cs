namespace TokenFormer.Core.Threading;

/// <summary>A row-range body for <see cref="RowRanges.Run"/>.</summary>
public interface IRowWork
{
    /// <summary>Processes rows [start, end).</summary>
    void Rows(int start, int end);
}

/// <summary>
/// Splits a loop over rows into contiguous row ranges run over <see cref="Parallelism"/> (allocation-free: one
/// reusable job per thread). Core's row kernels use their own shape-only chunking (Kernels/RowParallel) so that
/// reductions across chunks do not depend on the thread count.
/// </summary>
public static class RowRanges
{
    private sealed class Job : IParallelWork
    {
        public IRowWork? Work;
        public int Rows, Chunk;
        public void Execute(int index)
        {
            int start = index * Chunk;
            Work!.Rows(start, Math.Min(Rows, start + Chunk));
        }
    }

    [ThreadStatic] private static Job? _job;

    /// <summary>Runs <paramref name="work"/> over [0, rows) in chunks of at least <paramref name="minChunk"/> rows.</summary>
    public static void Run(int rows, IRowWork work, int minChunk = 4)
    {
        if (rows <= 0) return;
        int threads = Parallelism.ThreadCount;
        if (threads == 1 || rows <= minChunk)
        {
            work.Rows(0, rows);
            return;
        }
        int chunks = Math.Min(threads * 4, (rows + minChunk - 1) / minChunk);
        int chunk = (rows + chunks - 1) / chunks;
        Job job = _job ??= new Job();
        job.Work = work;
        job.Rows = rows;
        job.Chunk = chunk;
        Parallelism.For((rows + chunk - 1) / chunk, job);
        job.Work = null;
    }
}
