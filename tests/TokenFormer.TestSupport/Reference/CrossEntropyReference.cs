using TokenFormer.Core.Kernels;

namespace TokenFormer.TestSupport.Reference;

/// <summary>Plain double-precision reference for <c>CrossEntropy.ForwardBackward</c>.</summary>
public static class CrossEntropyReference
{
    /// <summary>
    /// Returns Σ mask·ce / Σ mask (0 when Σ mask = 0); fills rowLoss: [rows] with ce per row and
    /// dLogits: [rows, vocab] with lossScale·(softmax − onehot)·mask/Σ mask. logits: [rows, vocab]; mask empty = all ones.
    /// </summary>
    public static double ForwardBackward(ReadOnlySpan<float> logits, int rows, int vocab, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> mask, Span<double> rowLoss, Span<double> dLogits, double lossScale = 1.0)
    {
        var wide = new double[logits.Length];
        for (int i = 0; i < wide.Length; i++) wide[i] = logits[i];
        return ForwardBackward(wide, rows, vocab, targets, mask, rowLoss, dLogits, lossScale);
    }

    /// <summary>The same on double logits (for finite-difference checks, which perturb the logits in double).</summary>
    public static double ForwardBackward(ReadOnlySpan<double> logits, int rows, int vocab, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> mask, Span<double> rowLoss, Span<double> dLogits, double lossScale = 1.0)
    {
        double maskSum = 0;
        for (int r = 0; r < rows; r++) maskSum += mask.IsEmpty ? 1.0 : mask[r];
        double total = 0;
        var p = new double[vocab];
        for (int r = 0; r < rows; r++)
        {
            int t = targets[r];
            if (t < 0 || t >= vocab) throw new ArgumentException($"CrossEntropyReference: targets[{r}] = {t} is outside [0, {vocab})");
            double max = double.NegativeInfinity;
            for (int j = 0; j < vocab; j++) max = Math.Max(max, logits[r * vocab + j]);
            double s = 0;
            for (int j = 0; j < vocab; j++) { p[j] = Math.Exp(logits[r * vocab + j] - max); s += p[j]; }
            double ce = Math.Log(s) - (logits[r * vocab + t] - max);
            double m = mask.IsEmpty ? 1.0 : mask[r];
            if (!rowLoss.IsEmpty) rowLoss[r] = ce;
            total += m * ce;
            if (dLogits.IsEmpty) continue;
            double w = maskSum > 0 ? lossScale * m / maskSum : 0.0;
            for (int j = 0; j < vocab; j++) dLogits[r * vocab + j] = w * (p[j] / s - (j == t ? 1.0 : 0.0));
        }
        return maskSum > 0 ? total / maskSum : 0.0;
    }
}
