using System.Runtime.Intrinsics;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Row-wise reductions and normalisations over a dense row-major matrix x: [rows, cols]. Vector512/Vector256/
/// scalar by CPU, split over threads by rows when the matrix is large; no allocation in steady state.
/// Bad shapes throw <see cref="ArgumentException"/> naming the kernel, the shape and the span lengths.
/// </summary>
public static unsafe class RowOps
{
    /// <summary>norms[r] = ‖x[r, :]‖₂ (no epsilon). x: [rows, cols], norms: [rows].</summary>
    public static void L2Norms(ReadOnlySpan<float> x, int rows, int cols, Span<float> norms) =>
        L2Norms(x, rows, cols, norms, SimdPaths.Current);

    /// <summary>
    /// mean[r] = Σⱼ x[r, j] / cols and variance[r] = Σⱼ (x[r, j] − mean[r])² / cols (population/biased, as LayerNorm
    /// uses), by two passes over each row. x: [rows, cols], mean: [rows], variance: [rows]. cols must be ≥ 1 when rows ≥ 1.
    /// </summary>
    public static void MeanVariance(ReadOnlySpan<float> x, int rows, int cols, Span<float> mean, Span<float> variance) =>
        MeanVariance(x, rows, cols, mean, variance, SimdPaths.Current);

    /// <summary>
    /// y[r, :] = softmax(x[r, :]) with the row maximum subtracted before exp. x, y: [rows, cols]; y may be the same span as x.
    /// </summary>
    public static void Softmax(ReadOnlySpan<float> x, Span<float> y, int rows, int cols) =>
        Softmax(x, y, rows, cols, SimdPaths.Current);

    /// <summary>
    /// y[r, :] = log softmax(x[r, :]) = (x − max) − log Σ exp(x − max). x, y: [rows, cols]; y may be the same span as x.
    /// </summary>
    public static void LogSoftmax(ReadOnlySpan<float> x, Span<float> y, int rows, int cols) =>
        LogSoftmax(x, y, rows, cols, SimdPaths.Current);

    /// <summary>
    /// Softmax backward per row: dx = y ⊙ (dy − Σⱼ yⱼ·dyⱼ), where y = softmax(x) is the saved forward output.
    /// y, dy, dx: [rows, cols]; dx may be the same span as dy (or y).
    /// </summary>
    public static void SoftmaxBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols) =>
        SoftmaxBackward(y, dy, dx, rows, cols, SimdPaths.Current);

    internal static void SoftmaxBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int cols, SimdPath path)
    {
        const string K = "SoftmaxBackward";
        int n = KernelArguments.Matrix(K, rows, cols);
        KernelArguments.AtLeast(K, "y", y.Length, n, rows, cols);
        KernelArguments.AtLeast(K, "dy", dy.Length, n, rows, cols);
        KernelArguments.AtLeast(K, "dx", dx.Length, n, rows, cols);
        KernelArguments.NoPartialOverlap(K, y[..n], "y", dx[..n], "dx");
        KernelArguments.NoPartialOverlap(K, dy[..n], "dy", dx[..n], "dx");
        fixed (float* py = y, pdy = dy, pdx = dx) Run(Kind.SoftmaxBackward, path, py, pdy, pdx, rows, cols);
    }

    internal static void L2Norms(ReadOnlySpan<float> x, int rows, int cols, Span<float> norms, SimdPath path)
    {
        int n = KernelArguments.Matrix("L2Norms", rows, cols);
        KernelArguments.AtLeast("L2Norms", "x", x.Length, n, rows, cols);
        KernelArguments.AtLeast("L2Norms", "norms", norms.Length, rows, rows);
        fixed (float* px = x, pn = norms) Run(Kind.L2Norm, path, px, pn, null, rows, cols);
    }

    internal static void MeanVariance(ReadOnlySpan<float> x, int rows, int cols, Span<float> mean, Span<float> variance, SimdPath path)
    {
        int n = KernelArguments.Matrix("MeanVariance", rows, cols);
        if (cols == 0 && rows > 0)
            throw new ArgumentException($"MeanVariance: rows of x [{rows}, {cols}] are empty; mean and variance need cols ≥ 1");
        KernelArguments.AtLeast("MeanVariance", "x", x.Length, n, rows, cols);
        KernelArguments.AtLeast("MeanVariance", "mean", mean.Length, rows, rows);
        KernelArguments.AtLeast("MeanVariance", "variance", variance.Length, rows, rows);
        if (rows > 0 && mean[..rows].Overlaps(variance[..rows]))
            throw new ArgumentException($"MeanVariance: mean and variance [{rows}] overlap");
        fixed (float* px = x, pm = mean, pv = variance) Run(Kind.MeanVariance, path, px, pm, pv, rows, cols);
    }

    internal static void Softmax(ReadOnlySpan<float> x, Span<float> y, int rows, int cols, SimdPath path)
    {
        CheckMap("Softmax", x, y, rows, cols);
        fixed (float* px = x, py = y) Run(Kind.Softmax, path, px, py, null, rows, cols);
    }

    internal static void LogSoftmax(ReadOnlySpan<float> x, Span<float> y, int rows, int cols, SimdPath path)
    {
        CheckMap("LogSoftmax", x, y, rows, cols);
        fixed (float* px = x, py = y) Run(Kind.LogSoftmax, path, px, py, null, rows, cols);
    }

    private static void CheckMap(string kernel, ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        int n = KernelArguments.Matrix(kernel, rows, cols);
        KernelArguments.AtLeast(kernel, "x", x.Length, n, rows, cols);
        KernelArguments.AtLeast(kernel, "y", y.Length, n, rows, cols);
        KernelArguments.NoPartialOverlap(kernel, x[..n], "x", y[..n], "y");
    }

    private enum Kind { L2Norm, MeanVariance, Softmax, LogSoftmax, SoftmaxBackward }

    private static void Run(Kind kind, SimdPath path, float* x, float* a, float* b, int rows, int cols)
    {
        if (rows == 0) return;
        if (RowParallel.ShouldSplit(rows, cols))
        {
            var job = Job.ForCurrentThread;
            job.Set(kind, path, x, a, b, rows, cols);
            Parallelism.For(RowParallel.ChunkCount(rows, cols), job);
            return;
        }
        Rows(kind, path, x, a, b, 0, rows, cols);
    }

    private static void Rows(Kind kind, SimdPath path, float* x, float* a, float* b, int r0, int r1, int cols)
    {
        switch (path)
        {
            case SimdPath.Vector512: Rows<Vector512<float>, Float512>(kind, x, a, b, r0, r1, cols); break;
            case SimdPath.Vector256: Rows<Vector256<float>, Float256>(kind, x, a, b, r0, r1, cols); break;
            default: Rows<float, Float1>(kind, x, a, b, r0, r1, cols); break;
        }
    }

    private static void Rows<TV, TW>(Kind kind, float* x, float* a, float* b, int r0, int r1, int cols)
        where TV : struct where TW : IFloatVector<TV>
    {
        switch (kind)
        {
            case Kind.L2Norm:
                for (int r = r0; r < r1; r++)
                    a[r] = MathF.Sqrt(RowKernels.SumSquares<TV, TW>(x + (long)r * cols, cols, 0f));
                break;
            case Kind.MeanVariance:
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + (long)r * cols;
                    float m = RowKernels.Sum<TV, TW>(row, cols) / cols;
                    a[r] = m;
                    b[r] = RowKernels.SumSquares<TV, TW>(row, cols, m) / cols;
                }
                break;
            case Kind.Softmax:
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + (long)r * cols, outRow = a + (long)r * cols;
                    float max = RowKernels.Max<TV, TW>(row, cols);
                    float sum = RowKernels.SumExp<TV, TW>(row, outRow, cols, max);
                    RowKernels.Scale<TV, TW>(outRow, outRow, cols, 1f / sum);
                }
                break;
            case Kind.LogSoftmax:
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + (long)r * cols, outRow = a + (long)r * cols;
                    float max = RowKernels.Max<TV, TW>(row, cols);
                    float sum = RowKernels.SumExp<TV, TW>(row, null, cols, max);
                    RowKernels.ShiftTwice<TV, TW>(row, outRow, cols, max, MathF.Log(sum));
                }
                break;
            case Kind.SoftmaxBackward:     // x = y, a = dy, b = dx
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * cols;
                    float dot = RowKernels.Dot<TV, TW>(x + o, a + o, cols);
                    RowKernels.MultiplyShifted<TV, TW>(x + o, a + o, b + o, cols, dot);
                }
                break;
        }
    }

    private sealed class Job : IParallelWork
    {
        [ThreadStatic] private static Job? _current;
        public static Job ForCurrentThread => _current ??= new Job();

        private Kind _kind;
        private SimdPath _path;
        private float* _x, _a, _b;
        private int _rows, _cols, _perChunk;

        public void Set(Kind kind, SimdPath path, float* x, float* a, float* b, int rows, int cols)
        {
            _kind = kind; _path = path; _x = x; _a = a; _b = b; _rows = rows; _cols = cols;
            _perChunk = RowParallel.RowsPerChunk(cols);
        }

        public void Execute(int index)
        {
            int r0 = index * _perChunk;
            Rows(_kind, _path, _x, _a, _b, r0, Math.Min(_rows, r0 + _perChunk), _cols);
        }
    }
}
