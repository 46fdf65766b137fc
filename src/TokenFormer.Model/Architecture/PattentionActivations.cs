namespace TokenFormer.Model.Architecture;

/// <summary>
/// What a <see cref="Pattention"/> forward leaves for its backward, for up to a fixed number of rows:
/// <see cref="Pre"/> [rows, G·n] (the scores A, or z = A·τ/‖A‖ for l2_norm_gelu), <see cref="S"/> [rows, G·n]
/// (the normalised scores Θ(A)) and <see cref="Stat"/> [rows, G] (one statistic per row and group: ‖A‖, ‖GeLU(A)‖
/// or Σexp). Inference may let several Pattentions share the same arrays.
/// </summary>
public sealed class PattentionActivations(float[] pre, float[] s, float[] stat)
{
    /// <summary>Allocates for <paramref name="rows"/> rows of a Pattention group of <paramref name="width"/> = G·n columns.</summary>
    public PattentionActivations(int rows, int width, int groups)
        : this(new float[rows * width], new float[rows * width], new float[rows * groups]) { }

    /// <summary>Pre-activations [rows, G·n].</summary>
    public float[] Pre { get; } = pre;
    /// <summary>Normalised scores [rows, G·n].</summary>
    public float[] S { get; } = s;
    /// <summary>Per-row, per-group statistic [rows, G].</summary>
    public float[] Stat { get; } = stat;
}
