namespace TokenFormer.Model.Architecture;

/// <summary>
/// Where a <see cref="TokenFormerStack"/> gets its weights: a matrix view of each weight tensor (through
/// <see cref="IWeightMatrix"/>) and the float32 values of the small vectors (the final LayerNorm). The float32
/// parameter arena is <see cref="Float32Weights"/>; other storages implement this interface.
/// </summary>
public interface IWeightSource
{
    /// <summary>The matrix view of a 2-D parameter tensor.</summary>
    IWeightMatrix Matrix(ParameterTensor tensor);
    /// <summary>The float32 values of a 1-D parameter tensor.</summary>
    ReadOnlyMemory<float> Vector(ParameterTensor tensor);
}
