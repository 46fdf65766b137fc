using TokenFormer.Core.Kernels;
using TokenFormer.Model;

namespace TokenFormer.TestSupport.Reference;

/// <summary>
/// Plain double-precision Pattention (docs/architecture.md, Pattention) and its backward (docs/architecture.md, Backward): out = Θ(x·K_Pᵀ)·V_P over rows.
/// Shapes: x [rows, dIn], K [n, dIn], V [n, dOut], out [rows, dOut]. Θ is applied per row over the n entries.
/// </summary>
public static class PattentionReference
{
    /// <summary>Θ of one row of scores a [n] with multiplier τ (L2 variants) or m (softmax).</summary>
    public static double[] Normalize(NormActivation act, double tau, double mult, double[] a)
    {
        int n = a.Length;
        var s = new double[n];
        switch (act)
        {
            case NormActivation.L2NormGelu:
            {
                double r = Math.Sqrt(a.Sum(v => v * v));
                for (int i = 0; i < n; i++) s[i] = Activations.Gelu(a[i] * tau / r);
                break;
            }
            case NormActivation.GeluL2Norm:
            {
                var g = a.Select(Activations.Gelu).ToArray();
                double q = Math.Sqrt(g.Sum(v => v * v));
                for (int i = 0; i < n; i++) s[i] = g[i] * tau / q;
                break;
            }
            default:
            {
                // the official formula: exp, divide by the L1 norm, times m (no max subtraction)
                var e = a.Select(Math.Exp).ToArray();
                double sum = e.Sum();
                for (int i = 0; i < n; i++) s[i] = mult * e[i] / sum;
                break;
            }
        }
        return s;
    }

    /// <summary>∂ℒ/∂a of one row from g = ∂ℒ/∂s (docs/architecture.md, Backward).</summary>
    public static double[] NormalizeBackward(NormActivation act, double tau, double mult, double[] a, double[] g)
    {
        int n = a.Length;
        var ga = new double[n];
        switch (act)
        {
            case NormActivation.L2NormGelu:
            {
                double r = Math.Sqrt(a.Sum(v => v * v));
                var u = a.Select(v => v / r).ToArray();
                var gz = new double[n];
                for (int i = 0; i < n; i++) gz[i] = g[i] * Activations.GeluDerivative(tau * u[i]);
                double dot = 0;
                for (int i = 0; i < n; i++) dot += u[i] * gz[i];
                for (int i = 0; i < n; i++) ga[i] = tau / r * (gz[i] - u[i] * dot);
                break;
            }
            case NormActivation.GeluL2Norm:
            {
                var G = a.Select(Activations.Gelu).ToArray();
                double q = Math.Sqrt(G.Sum(v => v * v));
                var gh = G.Select(v => v / q).ToArray();
                double dot = 0;
                for (int i = 0; i < n; i++) dot += gh[i] * g[i];
                for (int i = 0; i < n; i++) ga[i] = tau / q * (g[i] - gh[i] * dot) * Activations.GeluDerivative(a[i]);
                break;
            }
            default:
            {
                var s = Normalize(act, tau, mult, a);
                double dot = 0;
                for (int i = 0; i < n; i++) dot += s[i] / mult * g[i];
                for (int i = 0; i < n; i++) ga[i] = s[i] * (g[i] - dot);
                break;
            }
        }
        return ga;
    }

    /// <summary>Forward over rows.</summary>
    public static double[] Forward(NormActivation act, double tau, double mult, double[] x, double[] k, double[] v, int rows, int dIn, int n, int dOut)
    {
        var output = new double[rows * dOut];
        for (int r = 0; r < rows; r++)
        {
            double[] s = Normalize(act, tau, mult, Scores(x, k, r, dIn, n));
            for (int j = 0; j < n; j++)
                for (int c = 0; c < dOut; c++) output[r * dOut + c] += s[j] * v[j * dOut + c];
        }
        return output;
    }

    /// <summary>Backward over rows: returns (dx, dK, dV) for upstream dY [rows, dOut].</summary>
    public static (double[] dx, double[] dk, double[] dv) Backward(NormActivation act, double tau, double mult,
        double[] x, double[] k, double[] v, double[] dY, int rows, int dIn, int n, int dOut)
    {
        var dx = new double[rows * dIn];
        var dk = new double[n * dIn];
        var dv = new double[n * dOut];
        for (int r = 0; r < rows; r++)
        {
            double[] a = Scores(x, k, r, dIn, n);
            double[] s = Normalize(act, tau, mult, a);
            var g = new double[n];
            for (int j = 0; j < n; j++)
                for (int c = 0; c < dOut; c++)
                {
                    g[j] += dY[r * dOut + c] * v[j * dOut + c];
                    dv[j * dOut + c] += s[j] * dY[r * dOut + c];
                }
            double[] ga = NormalizeBackward(act, tau, mult, a, g);
            for (int j = 0; j < n; j++)
                for (int c = 0; c < dIn; c++)
                {
                    dx[r * dIn + c] += ga[j] * k[j * dIn + c];
                    dk[j * dIn + c] += ga[j] * x[r * dIn + c];
                }
        }
        return (dx, dk, dv);
    }

    /// <summary>Scores a = x_r·Kᵀ of row r.</summary>
    public static double[] Scores(double[] x, double[] k, int r, int dIn, int n)
    {
        var a = new double[n];
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int c = 0; c < dIn; c++) s += x[r * dIn + c] * k[j * dIn + c];
            a[j] = s;
        }
        return a;
    }
}
