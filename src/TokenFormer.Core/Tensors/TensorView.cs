namespace TokenFormer.Core.Tensors;

/// <summary>
/// A non-owning float32 view of up to 4 dimensions over native memory (a <see cref="Tensor"/> or a
/// <see cref="TensorArena"/> block): a pointer, a shape and per-axis strides in elements, all inline, so creating,
/// slicing and passing views never allocates. Dense row-major views expose <see cref="Span"/>; slicing an inner axis
/// gives a strided view whose rows are still spans when the last axis is contiguous.
/// A view is only valid while its memory is: not after the tensor is disposed or the arena is reset.
/// </summary>
public readonly unsafe struct TensorView
{
    private readonly float* _data;
    private readonly long _s0, _s1, _s2, _s3;

    /// <summary>The dimensions.</summary>
    public TensorShape Shape { get; }

    /// <summary>A dense row-major view of <paramref name="shape"/> at <paramref name="data"/>.</summary>
    public TensorView(float* data, TensorShape shape)
    {
        _data = data;
        Shape = shape;
        long s = 1;
        long s3 = 0, s2 = 0, s1 = 0, s0 = 0;
        for (int axis = shape.Rank - 1; axis >= 0; axis--)
        {
            switch (axis) { case 3: s3 = s; break; case 2: s2 = s; break; case 1: s1 = s; break; default: s0 = s; break; }
            s *= shape[axis];
        }
        _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3;
    }

    private TensorView(float* data, TensorShape shape, long s0, long s1, long s2, long s3)
    {
        _data = data; Shape = shape; _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3;
    }

    /// <summary>Address of element [0, 0, …].</summary>
    public float* Pointer => _data;

    /// <summary>Number of axes.</summary>
    public int Rank => Shape.Rank;

    /// <summary>Total number of elements.</summary>
    public int Length => Shape.ElementCount;

    /// <summary>True for a view with no memory (default).</summary>
    public bool IsNull => _data == null;

    /// <summary>Distance in elements between consecutive indices of <paramref name="axis"/>.</summary>
    public long Stride(int axis)
    {
        if ((uint)axis >= (uint)Rank)
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"axis must be in [0, {Rank}) for shape {Shape}");
        return axis switch { 0 => _s0, 1 => _s1, 2 => _s2, _ => _s3 };
    }

    /// <summary>True when the elements are dense and row-major (strides of an unsliced tensor).</summary>
    public bool IsContiguous
    {
        get
        {
            long s = 1;
            for (int axis = Rank - 1; axis >= 0; axis--)
            {
                int d = Shape[axis];
                if (d != 1 && Stride(axis) != s) return false;
                s *= d;
            }
            return true;
        }
    }

    /// <summary>All elements as one span; throws <see cref="InvalidOperationException"/> for a strided view.</summary>
    public Span<float> Span
    {
        get
        {
            if (!IsContiguous)
                throw new InvalidOperationException($"tensor view {Shape} with strides {StridesText()} is not contiguous; use Row(i)");
            return new Span<float>(_data, Length);
        }
    }

    /// <summary>Rows when viewed as [Shape[0], rest] (1 for a scalar).</summary>
    public int Rows => Shape.Rows;

    /// <summary>Elements per row when viewed as [Shape[0], rest].</summary>
    public int RowLength => Shape.RowLength;

    /// <summary>Row <paramref name="index"/> of axis 0 as a span of <see cref="RowLength"/> floats (the inner axes must be dense).</summary>
    public Span<float> Row(int index)
    {
        if (Rank == 0) throw new InvalidOperationException("a scalar tensor view has no rows");
        if ((uint)index >= (uint)Shape[0])
            throw new ArgumentOutOfRangeException(nameof(index), index, $"row must be in [0, {Shape[0]}) for shape {Shape}");
        if (!InnerContiguous())
            throw new InvalidOperationException($"rows of tensor view {Shape} with strides {StridesText()} are not contiguous");
        return new Span<float>(_data + index * _s0, RowLength);
    }

    /// <summary>Rows [start, start + count) of axis 0, sharing memory (no copy, no allocation).</summary>
    public TensorView RowSlice(int start, int count) => Slice(0, start, count);

    /// <summary>Indices [start, start + count) of <paramref name="axis"/>, sharing memory.</summary>
    public TensorView Slice(int axis, int start, int count)
    {
        int size = Shape[axis];
        if (start < 0 || count < 0 || start > size - count)
            throw new ArgumentOutOfRangeException(nameof(start),
                $"slice [{start}, {start}+{count}) is outside axis {axis} of size {size} (shape {Shape})");
        return new TensorView(_data + start * Stride(axis), Shape.WithDimension(axis, count), _s0, _s1, _s2, _s3);
    }

    /// <summary>The same contiguous elements under another shape with the same element count.</summary>
    public TensorView Reshape(TensorShape shape)
    {
        if (shape.ElementCount != Length)
            throw new ArgumentException($"cannot reshape tensor view {Shape} ({Length} elements) to {shape} ({shape.ElementCount} elements)");
        if (!IsContiguous)
            throw new InvalidOperationException($"cannot reshape strided tensor view {Shape} with strides {StridesText()}");
        return new TensorView(_data, shape);
    }

    /// <summary>Element at [i] of a rank-1 view.</summary>
    public ref float this[int i] => ref *At(1, i, 0, 0, 0);

    /// <summary>Element at [i, j] of a rank-2 view.</summary>
    public ref float this[int i, int j] => ref *At(2, i, j, 0, 0);

    /// <summary>Element at [i, j, k] of a rank-3 view.</summary>
    public ref float this[int i, int j, int k] => ref *At(3, i, j, k, 0);

    /// <summary>Element at [i, j, k, l] of a rank-4 view.</summary>
    public ref float this[int i, int j, int k, int l] => ref *At(4, i, j, k, l);

    private float* At(int rank, int i, int j, int k, int l)
    {
        if (Rank != rank) throw new InvalidOperationException($"tensor view {Shape} has rank {Rank}, indexed with {rank} indices");
        Check(0, i);
        if (rank > 1) Check(1, j);
        if (rank > 2) Check(2, k);
        if (rank > 3) Check(3, l);
        return _data + i * _s0 + j * _s1 + k * _s2 + l * _s3;
    }

    private void Check(int axis, int index)
    {
        if ((uint)index >= (uint)Shape[axis])
            throw new IndexOutOfRangeException($"index {index} is outside axis {axis} of tensor view {Shape}");
    }

    private bool InnerContiguous()
    {
        long s = 1;
        for (int axis = Rank - 1; axis >= 1; axis--)
        {
            int d = Shape[axis];
            if (d != 1 && Stride(axis) != s) return false;
            s *= d;
        }
        return true;
    }

    private string StridesText() => Rank switch
    {
        0 => "[]",
        1 => $"[{_s0}]",
        2 => $"[{_s0}, {_s1}]",
        3 => $"[{_s0}, {_s1}, {_s2}]",
        _ => $"[{_s0}, {_s1}, {_s2}, {_s3}]",
    };

    /// <summary>Shape and address, for debugging.</summary>
    public override string ToString() => $"TensorView {Shape} at 0x{(nint)_data:X}";
}
