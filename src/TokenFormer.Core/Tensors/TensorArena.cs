namespace TokenFormer.Core.Tensors;

/// <summary>
/// A bump allocator for per-step activations: <see cref="Allocate(TensorShape)"/> hands out 64-byte aligned views from
/// one big native block, and <see cref="Reset"/> (once per step) makes all of it free again. While warming up, a request
/// that does not fit takes an extra block; the next <see cref="Reset"/> replaces all blocks by one block as large as the
/// most the arena has held, so from then on a step with the same allocations touches no allocator at all (native or
/// managed). Not thread-safe: allocate from one thread (kernels may then use the views from any thread).
/// Views are valid until the next <see cref="Reset"/> or <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class TensorArena : IDisposable
{
    private float* _block;          // main block
    private long _capacity;         // floats in the main block
    private long _used;             // floats handed out from the main block
    private readonly List<nint> _extra = new(8);   // blocks taken while warming up, freed on Reset
    private long _extraUsed;        // floats handed out from extra blocks
    private long _highWater;        // most floats handed out between two resets
    private bool _disposed;

    /// <summary>An arena with an initial block of <paramref name="initialFloats"/> floats (it grows as needed).</summary>
    public TensorArena(long initialFloats = 1 << 20)
    {
        if (initialFloats < 0) throw new ArgumentException($"initial arena size must not be negative (got {initialFloats})");
        _capacity = Round(initialFloats);
        _block = NativeBuffer.Allocate(_capacity, zero: false);
    }

    /// <summary>Floats in the main block.</summary>
    public long Capacity => _capacity;

    /// <summary>Floats handed out since the last reset (rounded up per allocation to 16 floats).</summary>
    public long Used => _used + _extraUsed;

    /// <summary>The most floats handed out between two resets.</summary>
    public long HighWater => Math.Max(_highWater, Used);

    /// <summary>How many times the arena has had to allocate native memory after construction.</summary>
    public int Growths { get; private set; }

    /// <summary>An uninitialised (contents left from earlier steps) dense view of <paramref name="shape"/>.</summary>
    public TensorView Allocate(TensorShape shape) => new(Take(shape.ElementCount), shape);

    /// <summary>An uninitialised view [d0].</summary>
    public TensorView Allocate(int d0) => Allocate(new TensorShape(d0));

    /// <summary>An uninitialised view [d0, d1].</summary>
    public TensorView Allocate(int d0, int d1) => Allocate(new TensorShape(d0, d1));

    /// <summary>An uninitialised view [d0, d1, d2].</summary>
    public TensorView Allocate(int d0, int d1, int d2) => Allocate(new TensorShape(d0, d1, d2));

    /// <summary>An uninitialised view [d0, d1, d2, d3].</summary>
    public TensorView Allocate(int d0, int d1, int d2, int d3) => Allocate(new TensorShape(d0, d1, d2, d3));

    /// <summary>A zero-filled dense view of <paramref name="shape"/>.</summary>
    public TensorView AllocateZeroed(TensorShape shape)
    {
        TensorView v = Allocate(shape);
        v.Span.Clear();
        return v;
    }

    /// <summary>An uninitialised span of <paramref name="length"/> floats (scratch space).</summary>
    public Span<float> AllocateSpan(int length)
    {
        if (length < 0) throw new ArgumentException($"arena span length must not be negative (got {length})");
        return new Span<float>(Take(length), length);
    }

    /// <summary>
    /// Frees everything handed out since the last reset. If extra blocks were needed, they and the main block are
    /// replaced by one main block that fits the high-water mark.
    /// </summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _highWater = HighWater;
        if (_extra.Count > 0)
        {
            foreach (nint p in _extra) NativeBuffer.Free((float*)p);
            _extra.Clear();
            NativeBuffer.Free(_block);
            _block = null;
            _capacity = Round(_highWater + _highWater / 8);
            _block = NativeBuffer.Allocate(_capacity, zero: false);
            Growths++;
        }
        _used = 0;
        _extraUsed = 0;
    }

    /// <summary>Frees all memory; the arena cannot be used afterwards.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (nint p in _extra) NativeBuffer.Free((float*)p);
        _extra.Clear();
        NativeBuffer.Free(_block);
        _block = null;
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native memory of an arena that was not disposed.</summary>
    ~TensorArena()
    {
        foreach (nint p in _extra) NativeBuffer.Free((float*)p);
        NativeBuffer.Free(_block);
    }

    private float* Take(long floats)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long size = Round(floats);
        if (_used + size <= _capacity)
        {
            float* p = _block + _used;
            _used += size;
            return p;
        }
        // Warming up: an extra block just for this request (merged into the main block at the next reset).
        float* q = NativeBuffer.Allocate(Math.Max(size, 1), zero: false);
        _extra.Add((nint)q);
        _extraUsed += size;
        Growths++;
        return q;
    }

    /// <summary>Rounds a float count up to whole 64-byte lines.</summary>
    private static long Round(long floats) => (floats + 15) & ~15L;
}
