namespace TokenFormer.Core.Kernels;

/// <summary>
/// Which operands of a GEMM are read transposed. All matrices are row-major with a leading dimension
/// (the distance in floats between the starts of consecutive rows).
/// </summary>
public enum GemmForm
{
    /// <summary>C[M,N] = A·B with A: [M, K], B: [K, N].</summary>
    NN,
    /// <summary>C[M,N] = A·Bᵀ with A: [M, K], B: [N, K] (x·Wᵀ, as in Pattention's x·K_Pᵀ).</summary>
    NT,
    /// <summary>C[M,N] = Aᵀ·B with A: [K, M], B: [K, N] (weight gradients, e.g. dV = Sᵀ·dY).</summary>
    TN,
}
