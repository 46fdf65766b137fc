namespace TokenFormer.Model.Kernels;

/// <summary>
/// Fused per-row softmax cross-entropy over a row of logits [V]: returns −log softmax(logits)[target] and, when
/// <paramref name="gradScale"/> is non-zero, overwrites the row with gradScale·(softmax − onehot(target)).
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>One row; <paramref name="row"/> [V] is replaced by its gradient when <paramref name="writeGradient"/>.</summary>
    public static float Row(Span<float> row, int target, float gradScale, bool writeGradient)
    {
        float max = VectorMath.Max(row);
        float logit = row[target];
        if (!writeGradient)
        {
            double s = 0;
            for (int i = 0; i < row.Length; i++) s += Math.Exp(row[i] - max);
            return (float)(Math.Log(s) + max - logit);
        }
        float sum = VectorMath.ExpShifted(row, max, row);
        VectorMath.Scale(row, gradScale / sum);
        row[target] -= gradScale;
        return MathF.Log(sum) + max - logit;
    }
}
