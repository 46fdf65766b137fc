namespace TokenFormer.Core.Tensors;

/// <summary>
/// An owning float32 tensor of up to 4 dimensions in 64-byte aligned native memory, dense row-major, zero-initialised.
/// Use it for parameters, optimiser state and other long-lived buffers; use <see cref="TensorArena"/> for per-step
/// activations. Dispose it (or let the finaliser) to free the memory; views taken from it must not outlive it.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    private float* _data;

    /// <summary>The dimensions.</summary>
    public TensorShape Shape { get; }

    /// <summary>A zero-filled tensor of <paramref name="shape"/>.</summary>
    public Tensor(TensorShape shape)
    {
        Shape = shape;
        _data = NativeBuffer.Allocate(shape.ElementCount, zero: true);
    }

    /// <summary>A zero-filled tensor [d0].</summary>
    public Tensor(int d0) : this(new TensorShape(d0)) { }

    /// <summary>A zero-filled tensor [d0, d1].</summary>
    public Tensor(int d0, int d1) : this(new TensorShape(d0, d1)) { }

    /// <summary>A zero-filled tensor [d0, d1, d2].</summary>
    public Tensor(int d0, int d1, int d2) : this(new TensorShape(d0, d1, d2)) { }

    /// <summary>A zero-filled tensor [d0, d1, d2, d3].</summary>
    public Tensor(int d0, int d1, int d2, int d3) : this(new TensorShape(d0, d1, d2, d3)) { }

    /// <summary>Total number of elements.</summary>
    public int Length => Shape.ElementCount;

    /// <summary>All elements, row-major.</summary>
    public Span<float> Span => new(Data, Length);

    /// <summary>A view of the whole tensor.</summary>
    public TensorView View => new(Data, Shape);

    /// <summary>Row <paramref name="index"/> of axis 0 (the tensor viewed as [Shape[0], rest]).</summary>
    public Span<float> Row(int index) => View.Row(index);

    /// <summary>Rows [start, start + count) of axis 0 as a view sharing this tensor's memory.</summary>
    public TensorView RowSlice(int start, int count) => View.RowSlice(start, count);

    /// <summary>Address of the first element (64-byte aligned).</summary>
    public float* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(Tensor), $"tensor {Shape} was disposed");

    /// <summary>Frees the memory.</summary>
    public void Dispose()
    {
        float* p = _data;
        _data = null;
        NativeBuffer.Free(p);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native memory of a tensor that was not disposed.</summary>
    ~Tensor() => NativeBuffer.Free(_data);

    /// <summary>Shape, for debugging.</summary>
    public override string ToString() => $"Tensor {Shape}";
}
