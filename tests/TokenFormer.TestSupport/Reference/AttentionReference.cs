namespace TokenFormer.TestSupport.Reference;

/// <summary>
/// Plain double-precision causal multi-head attention with partial GPT-NeoX rotary (docs/architecture.md, Attention and rotary) for one sequence:
/// q, k, v [T, H·h] (before rotation) → out [T, H·h]; backward returns gradients w.r.t. the un-rotated q, k and v.
/// </summary>
public static class AttentionReference
{
    /// <summary>Rotates the first r channels of every head of each row (rotate-half pairing i ↔ i + r/2); sign −1 inverts.</summary>
    public static double[] Rotate(double[] x, int t, int heads, int h, int r, double theBase, double sign = 1)
    {
        var y = (double[])x.Clone();
        int half = r / 2;
        for (int p = 0; p < t; p++)
            for (int hd = 0; hd < heads; hd++)
                for (int i = 0; i < half; i++)
                {
                    double angle = p / Math.Pow(theBase, 2.0 * i / r);
                    double c = Math.Cos(angle), s = sign * Math.Sin(angle);
                    int o = p * heads * h + hd * h;
                    double u1 = x[o + i], u2 = x[o + i + half];
                    y[o + i] = u1 * c - u2 * s;
                    y[o + i + half] = u2 * c + u1 * s;
                }
        return y;
    }

    /// <summary>softmax(q'k'ᵀ/√h + causal)·v per head, q' and k' rotated.</summary>
    public static double[] Forward(double[] q, double[] k, double[] v, int t, int heads, int h, int r, double theBase)
    {
        double[] qr = Rotate(q, t, heads, h, r, theBase), kr = Rotate(k, t, heads, h, r, theBase);
        int d = heads * h;
        var output = new double[t * d];
        for (int hd = 0; hd < heads; hd++)
            for (int i = 0; i < t; i++)
            {
                double[] p = Probabilities(qr, kr, i, hd, h, d);
                for (int j = 0; j <= i; j++)
                    for (int c = 0; c < h; c++) output[i * d + hd * h + c] += p[j] * v[j * d + hd * h + c];
            }
        return output;
    }

    /// <summary>Backward for upstream dOut [T, d]: (dq, dk, dv) w.r.t. the un-rotated inputs.</summary>
    public static (double[] dq, double[] dk, double[] dv) Backward(double[] q, double[] k, double[] v, double[] dOut,
        int t, int heads, int h, int r, double theBase)
    {
        double[] qr = Rotate(q, t, heads, h, r, theBase), kr = Rotate(k, t, heads, h, r, theBase);
        int d = heads * h;
        double scale = 1 / Math.Sqrt(h);
        var dqr = new double[t * d];
        var dkr = new double[t * d];
        var dv = new double[t * d];
        for (int hd = 0; hd < heads; hd++)
            for (int i = 0; i < t; i++)
            {
                double[] p = Probabilities(qr, kr, i, hd, h, d);
                var dp = new double[i + 1];
                for (int j = 0; j <= i; j++)
                    for (int c = 0; c < h; c++)
                    {
                        dp[j] += dOut[i * d + hd * h + c] * v[j * d + hd * h + c];
                        dv[j * d + hd * h + c] += p[j] * dOut[i * d + hd * h + c];
                    }
                double dot = 0;
                for (int j = 0; j <= i; j++) dot += p[j] * dp[j];
                for (int j = 0; j <= i; j++)
                {
                    double ds = p[j] * (dp[j] - dot) * scale;
                    for (int c = 0; c < h; c++)
                    {
                        dqr[i * d + hd * h + c] += ds * kr[j * d + hd * h + c];
                        dkr[j * d + hd * h + c] += ds * qr[i * d + hd * h + c];
                    }
                }
            }
        return (Rotate(dqr, t, heads, h, r, theBase, -1), Rotate(dkr, t, heads, h, r, theBase, -1), dv);
    }

    private static double[] Probabilities(double[] qr, double[] kr, int i, int hd, int h, int d)
    {
        var s = new double[i + 1];
        double max = double.NegativeInfinity;
        for (int j = 0; j <= i; j++)
        {
            double dot = 0;
            for (int c = 0; c < h; c++) dot += qr[i * d + hd * h + c] * kr[j * d + hd * h + c];
            s[j] = dot / Math.Sqrt(h);
            max = Math.Max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= i; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
        for (int j = 0; j <= i; j++) s[j] /= sum;
        return s;
    }
}
