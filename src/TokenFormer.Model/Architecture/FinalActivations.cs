namespace TokenFormer.Model.Architecture;

/// <summary>The final LayerNorm's saved x̂ and z [rows, d] and rstd [rows], for up to a fixed number of rows.</summary>
public sealed class FinalActivations(int rows, int width)
{
    /// <summary>Normalised rows x̂.</summary>
    public float[] Xhat { get; } = new float[rows * width];
    /// <summary>1/σ per row.</summary>
    public float[] Rstd { get; } = new float[rows];
    /// <summary>z = x̂ ⊙ w + b, the head's input.</summary>
    public float[] Z { get; } = new float[rows * width];
}
