namespace TokenFormer.Core.PyTorch;

/// <summary>
/// A tensor of a state dict: a strided view of a <see cref="TorchStorage"/>. Element (i₀, i₁, …) lives at storage
/// index <c>StorageOffset + Σ iₖ·Strides[k]</c>. The reader has checked that every such index lies inside the storage
/// and that the element count fits in a long.
/// </summary>
public sealed record TorchTensor(string Name, TorchStorage Storage, long StorageOffset, long[] Shape, long[] Strides)
{
    /// <summary>Element type (that of the storage).</summary>
    public TorchDType DType => Storage.DType;

    /// <summary>Number of elements (product of the shape).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as text, e.g. <c>[768, 64]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>True when the view is row-major contiguous (its elements are one run of the storage).</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int k = Shape.Length - 1; k >= 0; k--)
            {
                if (Shape[k] == 1) continue;
                if (Strides[k] != expected) return false;
                expected *= Shape[k];
            }
            return true;
        }
    }
}
