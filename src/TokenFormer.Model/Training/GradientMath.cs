namespace TokenFormer.Model.Training;

/// <summary>Whole-arena gradient helpers; serial and in a fixed order, so results do not depend on threads.</summary>
public static class GradientMath
{
    /// <summary>Global L2 norm √Σg² of <paramref name="g"/>, summed in double in index order (NaN/∞ propagate).</summary>
    public static double GlobalNorm(ReadOnlySpan<float> g)
    {
        // four interleaved partial sums in a fixed order: deterministic and independent of the thread count
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i <= g.Length - 4; i += 4)
        {
            s0 += (double)g[i] * g[i];
            s1 += (double)g[i + 1] * g[i + 1];
            s2 += (double)g[i + 2] * g[i + 2];
            s3 += (double)g[i + 3] * g[i + 3];
        }
        for (; i < g.Length; i++) s0 += (double)g[i] * g[i];
        return Math.Sqrt((s0 + s1) + (s2 + s3));
    }

    /// <summary>g ← g·<paramref name="factor"/>.</summary>
    public static void Scale(Span<float> g, float factor)
    {
        System.Numerics.Tensors.TensorPrimitives.Multiply(g, factor, g);
    }
}
