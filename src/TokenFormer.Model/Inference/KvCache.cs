namespace TokenFormer.Model.Inference;

/// <summary>
/// Per-layer key/value cache for <see cref="MaxBatch"/> sequences × <see cref="MaxLength"/> positions, allocated once:
/// for layer l, <c>Keys(l)</c> and <c>Values(l)</c> are [MaxBatch, MaxLength, d] (row-major; head j in channels
/// [j·h, (j+1)·h)). Keys are stored after the rotary embedding, values as produced (docs/architecture.md, Generation).
/// Pages are touched only as positions are written, so unused capacity costs address space, not memory.
/// </summary>
public sealed class KvCache
{
    private readonly float[][] _keys, _values;

    /// <summary>Sequences (slots).</summary>
    public int MaxBatch { get; }
    /// <summary>Positions per sequence.</summary>
    public int MaxLength { get; }
    /// <summary>Channels per position d.</summary>
    public int Width { get; }

    /// <summary>Allocates the cache for <paramref name="layers"/> layers.</summary>
    public KvCache(int layers, int maxBatch, int maxLength, int width)
    {
        long perLayer = (long)maxBatch * maxLength * width;
        if (perLayer > Array.MaxLength)
            throw new ArgumentException($"KV cache of {maxBatch} sequences × {maxLength} positions × {width} channels is too large for one array per layer");
        MaxBatch = maxBatch; MaxLength = maxLength; Width = width;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new float[perLayer];
            _values[l] = new float[perLayer];
        }
    }

    /// <summary>Keys of layer <paramref name="layer"/>: [MaxBatch, MaxLength, d].</summary>
    public float[] Keys(int layer) => _keys[layer];
    /// <summary>Values of layer <paramref name="layer"/>: [MaxBatch, MaxLength, d].</summary>
    public float[] Values(int layer) => _values[layer];
    /// <summary>Offset of (slot, position) in a layer's arrays.</summary>
    public int Offset(int slot, int position) => (slot * MaxLength + position) * Width;
    /// <summary>Bytes held by the cache.</summary>
    public long Bytes => 2L * _keys.Length * MaxBatch * MaxLength * Width * sizeof(float);
}
