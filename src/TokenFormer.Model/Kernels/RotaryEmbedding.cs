namespace TokenFormer.Model.Kernels;

/// <summary>
/// Partial rotary position embedding in the GPT-NeoX rotate-half convention (docs/architecture.md, Attention and rotary): within every head the first
/// r channels are split into halves [u₁ | u₂] and channel i (&lt; r/2) is rotated with channel i + r/2 by
/// θ_{p,i} = p·base^(−2i/r); channels r…h−1 pass through. Tables are built in float32 like the official code
/// (inv_freq and p·inv_freq in float32, then cos/sin).
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly float[] _cos, _sin; // [maxPositions, r/2]

    /// <summary>Rotated channels per head.</summary>
    public int RotaryDim { get; }
    /// <summary>Head dimension.</summary>
    public int HeadDim { get; }
    /// <summary>Number of positions in the tables.</summary>
    public int MaxPositions { get; }

    /// <summary>Builds cos/sin tables for positions [0, maxPositions).</summary>
    public RotaryEmbedding(int headDim, int rotaryDim, double theBase, int maxPositions)
    {
        if (rotaryDim % 2 != 0 || rotaryDim > headDim || rotaryDim < 0)
            throw new ArgumentException($"rotary dimensions {rotaryDim} must be even and at most the head dimension {headDim}");
        HeadDim = headDim;
        RotaryDim = rotaryDim;
        MaxPositions = maxPositions;
        int half = rotaryDim / 2;
        _cos = new float[maxPositions * half];
        _sin = new float[maxPositions * half];
        var inv = new float[half];
        for (int i = 0; i < half; i++)
        {
            float exponent = (float)(2 * i) / rotaryDim;
            inv[i] = 1f / (float)Math.Pow(theBase, exponent);
        }
        for (int p = 0; p < maxPositions; p++)
            for (int i = 0; i < half; i++)
            {
                float angle = p * inv[i];
                _cos[p * half + i] = (float)Math.Cos(angle);
                _sin[p * half + i] = (float)Math.Sin(angle);
            }
    }

    /// <summary>The cos and sin tables, [MaxPositions, RotaryDim/2] row-major (for an exporter that must rotate exactly as we do).</summary>
    public (ReadOnlyMemory<float> Cos, ReadOnlyMemory<float> Sin) Tables => (_cos, _sin);

    /// <summary>
    /// Rotates one token's row <paramref name="x"/> ([heads·h], contiguous heads) for position <paramref name="position"/>.
    /// <paramref name="inverse"/> applies the transpose (angle −θ), which is the backward of the forward rotation.
    /// </summary>
    public void Apply(Span<float> x, int heads, int position, bool inverse)
    {
        int half = RotaryDim / 2;
        if (half == 0) return;
        if ((uint)position >= (uint)MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(position), $"position {position} is beyond the rotary table ({MaxPositions} positions)");
        ReadOnlySpan<float> c = _cos.AsSpan(position * half, half), s = _sin.AsSpan(position * half, half);
        float sign = inverse ? -1f : 1f;
        for (int hd = 0; hd < heads; hd++)
        {
            Span<float> u = x.Slice(hd * HeadDim, RotaryDim);
            for (int i = 0; i < half; i++)
            {
                float u1 = u[i], u2 = u[i + half], cs = c[i], sn = sign * s[i];
                u[i] = u1 * cs - u2 * sn;
                u[i + half] = u2 * cs + u1 * sn;
            }
        }
    }
}
