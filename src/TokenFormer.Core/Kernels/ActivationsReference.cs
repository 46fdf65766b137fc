namespace TokenFormer.Core.Kernels;

/// <summary>Plain double-precision reference for <see cref="Activations"/>: one element at a time, no SIMD.</summary>
public static class ActivationsReference
{
    /// <summary>y = GeLU(x). x, y: [n].</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<double> y)
    {
        KernelArguments.SameLength("GeluReference", "x", x.Length, "y", y.Length);
        for (int i = 0; i < x.Length; i++) y[i] = PreciseMath.Gelu(x[i]);
    }

    /// <summary>d = GeLU'(x). x, d: [n].</summary>
    public static void GeluDerivative(ReadOnlySpan<float> x, Span<double> d)
    {
        KernelArguments.SameLength("GeluDerivativeReference", "x", x.Length, "derivative", d.Length);
        for (int i = 0; i < x.Length; i++) d[i] = PreciseMath.GeluDerivative(x[i]);
    }

    /// <summary>dx = dy · GeLU'(x). x, dy, dx: [n].</summary>
    public static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<double> dx)
    {
        KernelArguments.SameLength("GeluBackwardReference", "x", x.Length, "dx", dx.Length);
        KernelArguments.SameLength("GeluBackwardReference", "dy", dy.Length, "dx", dx.Length);
        for (int i = 0; i < x.Length; i++) dx[i] = dy[i] * PreciseMath.GeluDerivative(x[i]);
    }
}
