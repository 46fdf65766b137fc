using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// How row-wise kernels split [rows, cols] over threads: chunks of whole rows of about <see cref="ChunkElements"/>
/// elements, and only when the matrix has at least <see cref="ParallelThreshold"/> elements. The chunking
/// depends on the shape alone (not the thread count), so results that combine chunks are reproducible.
/// </summary>
internal static class RowParallel
{
    public const int ParallelThreshold = 1 << 16;
    public const int ChunkElements = 1 << 14;

    /// <summary>Rows per chunk for a matrix with <paramref name="cols"/> columns.</summary>
    public static int RowsPerChunk(int cols) => Math.Max(1, ChunkElements / Math.Max(1, cols));

    /// <summary>Number of chunks of <see cref="RowsPerChunk"/> rows.</summary>
    public static int ChunkCount(int rows, int cols)
    {
        int per = RowsPerChunk(cols);
        return (rows + per - 1) / per;
    }

    /// <summary>True when a [rows, cols] job is worth running on several threads.</summary>
    public static bool ShouldSplit(int rows, int cols) =>
        rows > 1 && (long)rows * cols >= ParallelThreshold && Parallelism.ThreadCount > 1;
}
