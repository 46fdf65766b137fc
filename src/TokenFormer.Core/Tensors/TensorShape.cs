namespace TokenFormer.Core.Tensors;

/// <summary>
/// The dimensions of a tensor of rank 0 to 4, stored inline (no heap allocation), row-major: the last axis varies
/// fastest. A rank-0 shape is a scalar with one element.
/// </summary>
public readonly struct TensorShape : IEquatable<TensorShape>
{
    /// <summary>The largest rank a shape can have.</summary>
    public const int MaxRank = 4;

    private readonly int _d0, _d1, _d2, _d3;

    /// <summary>Number of axes (0 to 4).</summary>
    public int Rank { get; }

    /// <summary>A rank-1 shape [d0].</summary>
    public TensorShape(int d0) : this(1, d0, 0, 0, 0) { }

    /// <summary>A rank-2 shape [d0, d1].</summary>
    public TensorShape(int d0, int d1) : this(2, d0, d1, 0, 0) { }

    /// <summary>A rank-3 shape [d0, d1, d2].</summary>
    public TensorShape(int d0, int d1, int d2) : this(3, d0, d1, d2, 0) { }

    /// <summary>A rank-4 shape [d0, d1, d2, d3].</summary>
    public TensorShape(int d0, int d1, int d2, int d3) : this(4, d0, d1, d2, d3) { }

    private TensorShape(int rank, int d0, int d1, int d2, int d3)
    {
        if (d0 < 0 || d1 < 0 || d2 < 0 || d3 < 0)
            throw new ArgumentException($"tensor dimensions must not be negative (got {Format(rank, d0, d1, d2, d3)})");
        Rank = rank;
        _d0 = d0; _d1 = d1; _d2 = d2; _d3 = d3;
        long n = 1;
        if (rank > 0) n *= d0;
        if (rank > 1) n *= d1;
        if (rank > 2) n *= d2;
        if (rank > 3) n *= d3;
        if (n > int.MaxValue)
            throw new ArgumentException($"tensor {Format(rank, d0, d1, d2, d3)} has {n} elements, more than {int.MaxValue}");
    }

    /// <summary>A shape of the given rank from up to four dimensions (the extra ones are ignored).</summary>
    public static TensorShape Of(ReadOnlySpan<int> dims) => dims.Length switch
    {
        0 => default,
        1 => new TensorShape(dims[0]),
        2 => new TensorShape(dims[0], dims[1]),
        3 => new TensorShape(dims[0], dims[1], dims[2]),
        4 => new TensorShape(dims[0], dims[1], dims[2], dims[3]),
        _ => throw new ArgumentException($"tensor rank {dims.Length} is more than {MaxRank}"),
    };

    /// <summary>The size of axis <paramref name="axis"/> (0 ≤ axis &lt; Rank).</summary>
    public int this[int axis]
    {
        get
        {
            if ((uint)axis >= (uint)Rank)
                throw new ArgumentOutOfRangeException(nameof(axis), axis, $"axis must be in [0, {Rank}) for shape {this}");
            return axis switch { 0 => _d0, 1 => _d1, 2 => _d2, _ => _d3 };
        }
    }

    /// <summary>Total number of elements (1 for a scalar).</summary>
    public int ElementCount
    {
        get
        {
            long n = 1;
            if (Rank > 0) n *= _d0;
            if (Rank > 1) n *= _d1;
            if (Rank > 2) n *= _d2;
            if (Rank > 3) n *= _d3;
            return (int)n;
        }
    }

    /// <summary>Size of axis 0, or 1 for a scalar: the number of rows when the tensor is viewed as [rows, rest].</summary>
    public int Rows => Rank == 0 ? 1 : _d0;

    /// <summary>Elements per index of axis 0 (the product of the other axes).</summary>
    public int RowLength => Rank <= 1 ? 1 : InnerProduct();

    /// <summary>The same shape with axis <paramref name="axis"/> resized to <paramref name="size"/>.</summary>
    public TensorShape WithDimension(int axis, int size)
    {
        if ((uint)axis >= (uint)Rank)
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"axis must be in [0, {Rank}) for shape {this}");
        return new TensorShape(Rank, axis == 0 ? size : _d0, axis == 1 ? size : _d1, axis == 2 ? size : _d2, axis == 3 ? size : _d3);
    }

    private int InnerProduct()
    {
        long n = 1;
        if (Rank > 1) n *= _d1;
        if (Rank > 2) n *= _d2;
        if (Rank > 3) n *= _d3;
        return (int)n;
    }

    /// <summary>Same rank and dimensions.</summary>
    public bool Equals(TensorShape other) =>
        Rank == other.Rank && _d0 == other._d0 && _d1 == other._d1 && _d2 == other._d2 && _d3 == other._d3;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TensorShape s && Equals(s);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Rank, _d0, _d1, _d2, _d3);
    /// <summary>Same rank and dimensions.</summary>
    public static bool operator ==(TensorShape a, TensorShape b) => a.Equals(b);
    /// <summary>Different rank or dimensions.</summary>
    public static bool operator !=(TensorShape a, TensorShape b) => !a.Equals(b);

    /// <summary>"[d0, d1, …]".</summary>
    public override string ToString() => Format(Rank, _d0, _d1, _d2, _d3);

    private static string Format(int rank, int d0, int d1, int d2, int d3) => rank switch
    {
        0 => "[]",
        1 => $"[{d0}]",
        2 => $"[{d0}, {d1}]",
        3 => $"[{d0}, {d1}, {d2}]",
        _ => $"[{d0}, {d1}, {d2}, {d3}]",
    };
}
