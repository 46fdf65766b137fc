namespace TokenFormer.Core.Kernels;

/// <summary>Plain double-precision reference for <see cref="Elementwise"/>.</summary>
public static class ElementwiseReference
{
    /// <summary>result = x + y.</summary>
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<double> result)
    {
        for (int i = 0; i < x.Length; i++) result[i] = (double)x[i] + y[i];
    }

    /// <summary>result = x ⊙ y.</summary>
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<double> result)
    {
        for (int i = 0; i < x.Length; i++) result[i] = (double)x[i] * y[i];
    }

    /// <summary>result = y + alpha·x.</summary>
    public static void AddScaled(ReadOnlySpan<float> x, double alpha, ReadOnlySpan<float> y, Span<double> result)
    {
        for (int i = 0; i < x.Length; i++) result[i] = y[i] + alpha * x[i];
    }

    /// <summary>result = alpha·x.</summary>
    public static void Scale(ReadOnlySpan<float> x, double alpha, Span<double> result)
    {
        for (int i = 0; i < x.Length; i++) result[i] = alpha * x[i];
    }

    /// <summary>result = exp(x).</summary>
    public static void Exp(ReadOnlySpan<float> x, Span<double> result)
    {
        for (int i = 0; i < x.Length; i++) result[i] = Math.Exp(x[i]);
    }
}
