namespace TokenFormer.Model.Reference;

/// <summary>Plain double-precision masked cross-entropy: ℒ = Σ mask·(−log softmax(logits)[target]) / Σ mask, logits [rows, V].</summary>
public static class MaskedCrossEntropyReference
{
    /// <summary>The loss.</summary>
    public static double Loss(double[] logits, int rows, int vocab, int[] targets, double[] mask)
    {
        double total = 0, msum = mask.Sum();
        for (int r = 0; r < rows; r++)
        {
            if (mask[r] == 0) continue;
            double max = double.NegativeInfinity;
            for (int i = 0; i < vocab; i++) max = Math.Max(max, logits[r * vocab + i]);
            double s = 0;
            for (int i = 0; i < vocab; i++) s += Math.Exp(logits[r * vocab + i] - max);
            total += mask[r] * (Math.Log(s) + max - logits[r * vocab + targets[r]]);
        }
        return total / msum;
    }

    /// <summary>∂ℒ/∂logits = mask/Σmask·(softmax − onehot).</summary>
    public static double[] Gradient(double[] logits, int rows, int vocab, int[] targets, double[] mask)
    {
        var g = new double[rows * vocab];
        double msum = mask.Sum();
        for (int r = 0; r < rows; r++)
        {
            if (mask[r] == 0) continue;
            double max = double.NegativeInfinity;
            for (int i = 0; i < vocab; i++) max = Math.Max(max, logits[r * vocab + i]);
            double s = 0;
            for (int i = 0; i < vocab; i++) s += Math.Exp(logits[r * vocab + i] - max);
            for (int i = 0; i < vocab; i++) g[r * vocab + i] = mask[r] / msum * Math.Exp(logits[r * vocab + i] - max) / s;
            g[r * vocab + targets[r]] -= mask[r] / msum;
        }
        return g;
    }
}
