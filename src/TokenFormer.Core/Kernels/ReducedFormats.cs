namespace TokenFormer.Core.Kernels;

/// <summary>
/// The reduced-precision storages of a weight matrix W: [rows, columns] read by products that reduce along its columns
/// (docs/quantization.md). All keep W row-major, contiguous along the reduction dimension.
/// </summary>
public enum ReducedFormat
{
    /// <summary>bfloat16: the upper 16 bits of a float32, rounded to nearest even (8 significant bits).</summary>
    BFloat16,
    /// <summary>Signed 8-bit integers in blocks of <see cref="Int8Blocks.BlockSize"/> along a row, one float32 scale per block.</summary>
    Int8Block32,
    /// <summary>4-bit integers, two a byte, in blocks of <see cref="Int4Blocks.BlockSize"/> along a row, one float32 scale per block.</summary>
    Int4Block32,
}

/// <summary>bfloat16 conversions (round to nearest even; NaN stays NaN).</summary>
public static class BFloat16
{
    /// <summary>Largest relative error of <see cref="FromFloat(float)"/> for a normal finite value: 2⁻⁸ (8 significant bits: a unit in the last place is 2⁻⁷ of the leading bit's weight, rounding to nearest errs by at most half of it).</summary>
    public const double RelativeBound = 1.0 / 256;

    /// <summary>The bfloat16 bits nearest to <paramref name="value"/>.</summary>
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>The float32 value of bfloat16 bits (exact).</summary>
    public static float ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Converts <paramref name="source"/> to bfloat16 into <paramref name="destination"/> (same length).</summary>
    public static void FromFloat(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length != source.Length) throw new ArgumentException($"bfloat16 conversion: {source.Length} values into {destination.Length}");
        for (int i = 0; i < source.Length; i++) destination[i] = FromFloat(source[i]);
    }

    /// <summary>Widens <paramref name="source"/> into <paramref name="destination"/> (same length).</summary>
    public static void ToFloat(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length != source.Length) throw new ArgumentException($"bfloat16 conversion: {source.Length} values into {destination.Length}");
        for (int i = 0; i < source.Length; i++) destination[i] = ToFloat(source[i]);
    }
}

/// <summary>
/// Blocked int8: a row of K values is cut into ⌈K/32⌉ blocks of 32 (the last one shorter when K is not a multiple);
/// block b keeps s_b = max|x|/127 and q = round(x/s_b) ∈ [−127, 127], so x ≈ s_b·q with an error of at most s_b/2 =
/// max|x|/254 of the block (<see cref="ErrorBound"/>). An all-zero block has s_b = 0.
/// </summary>
public static class Int8Blocks
{
    /// <summary>Values per block.</summary>
    public const int BlockSize = 32;

    /// <summary>Blocks in a row of <paramref name="columns"/> values.</summary>
    public static int BlocksPerRow(int columns) => (columns + BlockSize - 1) / BlockSize;

    /// <summary>The largest error |x − s·q| the format allows for a block whose largest magnitude is <paramref name="blockMaxAbs"/>.</summary>
    public static double ErrorBound(double blockMaxAbs) => blockMaxAbs / 254.0;

    /// <summary>
    /// Quantises one row: <paramref name="values"/> [K] into <paramref name="quants"/> [K] and <paramref name="scales"/>
    /// [⌈K/32⌉]. Returns the index of the first non-finite value, or −1 (then nothing is meaningful).
    /// </summary>
    public static int QuantizeRow(ReadOnlySpan<float> values, Span<sbyte> quants, Span<float> scales)
    {
        int k = values.Length;
        if (quants.Length != k || scales.Length != BlocksPerRow(k))
            throw new ArgumentException($"int8 row of {k} values needs {k} quants and {BlocksPerRow(k)} scales (got {quants.Length}, {scales.Length})");
        for (int b = 0, start = 0; start < k; b++, start += BlockSize)
        {
            int end = Math.Min(k, start + BlockSize);
            int bad = BlockScan.Extreme(values, start, end, out float extreme);
            if (bad >= 0) return bad;
            float scale = Math.Abs(extreme) / 127f;
            float inverse = scale == 0 ? 0 : 1f / scale;
            // a block of values below about 1e-36 (1/scale overflows) is stored as zeros
            if (!float.IsFinite(inverse)) { scale = 0; inverse = 0; }
            scales[b] = scale;
            for (int i = start; i < end; i++)
                quants[i] = (sbyte)Math.Clamp((int)MathF.Round(values[i] * inverse, MidpointRounding.ToEven), -127, 127);
        }
        return -1;
    }

    /// <summary>Dequantises one row: x = s_b·q.</summary>
    public static void DequantizeRow(ReadOnlySpan<sbyte> quants, ReadOnlySpan<float> scales, Span<float> destination)
    {
        int k = quants.Length;
        if (destination.Length != k || scales.Length != BlocksPerRow(k))
            throw new ArgumentException($"int8 row of {k} quants needs {BlocksPerRow(k)} scales and {k} outputs (got {scales.Length}, {destination.Length})");
        for (int i = 0; i < k; i++) destination[i] = scales[i / BlockSize] * quants[i];
    }
}

/// <summary>
/// Blocked 4-bit: a row of K values is cut into ⌈K/32⌉ blocks of 32 (the last one padded with zeros); block b keeps a
/// scale s_b = m/−8, m the block's value of largest magnitude (so m itself is stored exactly, as −8), and
/// q = clamp(round(x/s_b), −8, 7), in 16 bytes: byte i holds q_i + 8 in its low nibble and q_{i+16} + 8 in its high
/// nibble (so one 16-byte load and two masks give the block's two halves in order). x ≈ s_b·q with an error of at most
/// |s_b|/2 = max|x|/16 of the block, except that a value of the sign opposite to m with x/s_b past 7.5 is clamped to 7:
/// at most |s_b| = max|x|/8 (<see cref="ErrorBound"/>). An all-zero block has s_b = 0. The same scheme as llama.cpp's
/// Q4_0 (docs/quantization.md, "4-bit").
/// </summary>
public static class Int4Blocks
{
    /// <summary>Values per block.</summary>
    public const int BlockSize = 32;
    /// <summary>Bytes per block (two values a byte).</summary>
    public const int BytesPerBlock = 16;

    /// <summary>Blocks in a row of <paramref name="columns"/> values.</summary>
    public static int BlocksPerRow(int columns) => (columns + BlockSize - 1) / BlockSize;

    /// <summary>Bytes of a stored row of <paramref name="columns"/> values (whole blocks).</summary>
    public static int BytesPerRow(int columns) => BlocksPerRow(columns) * BytesPerBlock;

    /// <summary>The largest error |x − s·q| the format allows for a block whose largest magnitude is <paramref name="blockMaxAbs"/>.</summary>
    public static double ErrorBound(double blockMaxAbs) => blockMaxAbs / 8.0;

    /// <summary>
    /// Quantises one row: <paramref name="values"/> [K] into <paramref name="packed"/> [<see cref="BytesPerRow"/>(K)] and
    /// <paramref name="scales"/> [⌈K/32⌉]. Returns the index of the first non-finite value, or −1 (then nothing is meaningful).
    /// </summary>
    public static int QuantizeRow(ReadOnlySpan<float> values, Span<byte> packed, Span<float> scales)
    {
        int k = values.Length;
        if (packed.Length != BytesPerRow(k) || scales.Length != BlocksPerRow(k))
            throw new ArgumentException($"4-bit row of {k} values needs {BytesPerRow(k)} bytes and {BlocksPerRow(k)} scales (got {packed.Length}, {scales.Length})");
        Span<int> q = stackalloc int[BlockSize];
        for (int b = 0, start = 0; start < k; b++, start += BlockSize)
        {
            int end = Math.Min(k, start + BlockSize);
            int bad = BlockScan.Extreme(values, start, end, out float extreme);
            if (bad >= 0) return bad;
            float scale = extreme / -8f;
            float inverse = scale == 0 ? 0 : 1f / scale;
            // a block of values below about 1e-37 (1/scale overflows) is stored as zeros
            if (!float.IsFinite(inverse)) { scale = 0; inverse = 0; }
            scales[b] = scale;
            for (int i = 0; i < BlockSize; i++)
                q[i] = start + i < end ? Math.Clamp((int)MathF.Round(values[start + i] * inverse, MidpointRounding.ToEven), -8, 7) : 0;
            Span<byte> block = packed.Slice(b * BytesPerBlock, BytesPerBlock);
            for (int i = 0; i < BytesPerBlock; i++) block[i] = (byte)((q[i] + 8) | ((q[i + 16] + 8) << 4));
        }
        return -1;
    }

    /// <summary>Value <paramref name="index"/> (0–31) of a block's 16 bytes as the integer q ∈ [−8, 7].</summary>
    public static int Quant(ReadOnlySpan<byte> block, int index) =>
        (index < BytesPerBlock ? block[index] & 0xF : block[index - BytesPerBlock] >> 4) - 8;

    /// <summary>Dequantises one row of <paramref name="destination"/>.Length values: x = s_b·q.</summary>
    public static void DequantizeRow(ReadOnlySpan<byte> packed, ReadOnlySpan<float> scales, Span<float> destination)
    {
        int k = destination.Length;
        if (packed.Length != BytesPerRow(k) || scales.Length != BlocksPerRow(k))
            throw new ArgumentException($"4-bit row of {k} values needs {BytesPerRow(k)} bytes and {BlocksPerRow(k)} scales (got {packed.Length}, {scales.Length})");
        for (int b = 0, start = 0; start < k; b++, start += BlockSize)
        {
            ReadOnlySpan<byte> block = packed.Slice(b * BytesPerBlock, BytesPerBlock);
            float s = scales[b];
            int end = Math.Min(k, start + BlockSize);
            for (int i = start; i < end; i++) destination[i] = s * Quant(block, i - start);
        }
    }
}

/// <summary>What both blocked formats take from a block before choosing its scale.</summary>
internal static class BlockScan
{
    /// <summary>
    /// The value of largest magnitude in values[start, end) (the first of equal magnitudes; 0 for an all-zero block) as
    /// <paramref name="extreme"/>; returns the index of the first non-finite value, or −1.
    /// </summary>
    public static int Extreme(ReadOnlySpan<float> values, int start, int end, out float extreme)
    {
        extreme = 0;
        for (int i = start; i < end; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v)) return i;
            if (Math.Abs(v) > Math.Abs(extreme)) extreme = v;
        }
        return -1;
    }
}
