namespace TokenFormer.TestSupport.Reference;

/// <summary>Plain double-precision LayerNorm (biased variance) over rows of x [rows, d], with optional affine w, b [d].</summary>
public static class LayerNormReference
{
    /// <summary>y = (x − mean)/√(var + ε) (⊙ w + b when w is given).</summary>
    public static double[] Forward(double[] x, int rows, int d, double eps, double[]? w = null, double[]? b = null)
    {
        var y = new double[rows * d];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
            var /= d;
            double rstd = 1 / Math.Sqrt(var + eps);
            for (int i = 0; i < d; i++)
            {
                double xh = (x[r * d + i] - mean) * rstd;
                y[r * d + i] = w == null ? xh : xh * w[i] + b![i];
            }
        }
        return y;
    }

    /// <summary>Backward: returns (dx, dw, db); dw and db are null without affine parameters.</summary>
    public static (double[] dx, double[]? dw, double[]? db) Backward(double[] x, double[] dy, int rows, int d, double eps, double[]? w = null)
    {
        var dx = new double[rows * d];
        double[]? dw = w == null ? null : new double[d], db = w == null ? null : new double[d];
        double[] xh = Forward(x, rows, d, eps);
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
            double rstd = 1 / Math.Sqrt(var / d + eps);
            var g = new double[d];
            for (int i = 0; i < d; i++)
            {
                g[i] = w == null ? dy[r * d + i] : dy[r * d + i] * w[i];
                if (w != null) { dw![i] += dy[r * d + i] * xh[r * d + i]; db![i] += dy[r * d + i]; }
            }
            double mg = g.Average(), mgx = 0;
            for (int i = 0; i < d; i++) mgx += g[i] * xh[r * d + i];
            mgx /= d;
            for (int i = 0; i < d; i++) dx[r * d + i] = rstd * (g[i] - mg - xh[r * d + i] * mgx);
        }
        return (dx, dw, db);
    }
}
