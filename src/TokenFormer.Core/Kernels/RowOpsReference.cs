namespace TokenFormer.Core.Kernels;

/// <summary>Plain double-precision reference for <see cref="RowOps"/>: straightforward loops, no SIMD, no threads.</summary>
public static class RowOpsReference
{
    /// <summary>norms[r] = ‖x[r, :]‖₂. x: [rows, cols], norms: [rows].</summary>
    public static void L2Norms(ReadOnlySpan<float> x, int rows, int cols, Span<double> norms)
    {
        Check("L2NormsReference", x, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int j = 0; j < cols; j++) { double v = x[r * cols + j]; s += v * v; }
            norms[r] = Math.Sqrt(s);
        }
    }

    /// <summary>Row mean and population variance. x: [rows, cols], mean, variance: [rows].</summary>
    public static void MeanVariance(ReadOnlySpan<float> x, int rows, int cols, Span<double> mean, Span<double> variance)
    {
        Check("MeanVarianceReference", x, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int j = 0; j < cols; j++) s += x[r * cols + j];
            double m = s / cols, v = 0;
            for (int j = 0; j < cols; j++) { double d = x[r * cols + j] - m; v += d * d; }
            mean[r] = m;
            variance[r] = v / cols;
        }
    }

    /// <summary>y = softmax(x) per row. x, y: [rows, cols].</summary>
    public static void Softmax(ReadOnlySpan<float> x, int rows, int cols, Span<double> y)
    {
        Check("SoftmaxReference", x, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < cols; j++) max = Math.Max(max, x[r * cols + j]);
            double s = 0;
            for (int j = 0; j < cols; j++) s += Math.Exp(x[r * cols + j] - max);
            for (int j = 0; j < cols; j++) y[r * cols + j] = Math.Exp(x[r * cols + j] - max) / s;
        }
    }

    /// <summary>y = log softmax(x) per row. x, y: [rows, cols].</summary>
    public static void LogSoftmax(ReadOnlySpan<float> x, int rows, int cols, Span<double> y)
    {
        Check("LogSoftmaxReference", x, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < cols; j++) max = Math.Max(max, x[r * cols + j]);
            double s = 0;
            for (int j = 0; j < cols; j++) s += Math.Exp(x[r * cols + j] - max);
            double log = Math.Log(s);
            for (int j = 0; j < cols; j++) y[r * cols + j] = (x[r * cols + j] - max) - log;
        }
    }

    /// <summary>dx = y ⊙ (dy − Σ y·dy) per row. y, dy, dx: [rows, cols].</summary>
    public static void SoftmaxBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, int rows, int cols, Span<double> dx)
    {
        Check("SoftmaxBackwardReference", y, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double dot = 0;
            for (int j = 0; j < cols; j++) dot += (double)y[r * cols + j] * dy[r * cols + j];
            for (int j = 0; j < cols; j++) dx[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - dot);
        }
    }

    private static void Check(string kernel, ReadOnlySpan<float> x, int rows, int cols)
    {
        int n = KernelArguments.Matrix(kernel, rows, cols);
        KernelArguments.AtLeast(kernel, "x", x.Length, n, rows, cols);
    }
}
