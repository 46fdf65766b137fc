using System.Text.Json;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.Memory;

namespace TokenFormer.Model.Architecture;

/// <summary>How a model's weight matrices are stored (config.json <c>weight_format</c>; docs/quantization.md).</summary>
public enum WeightFormat
{
    /// <summary>float32 (the parameter arena; the only format that trains).</summary>
    Float32,
    /// <summary>bfloat16 matrices, float32 final LayerNorm.</summary>
    BFloat16,
    /// <summary>int8 in blocks of 32 along each product's reduction dimension with a float32 scale per block.</summary>
    Int8,
    /// <summary>4-bit integers in blocks of 32 along each product's reduction dimension with a float32 scale per block (<see cref="Int4Blocks"/>).</summary>
    Int4,
}

/// <summary>Names of <see cref="WeightFormat"/> and where a model directory records it.</summary>
public static class WeightFormats
{
    /// <summary>The config.json field naming the format (absent: float32).</summary>
    public const string ConfigField = "weight_format";

    /// <summary>The accepted names, as written to config.json and taken by <c>--to</c> / <c>--dtype</c>.</summary>
    public static readonly string[] Names = ["float32", "bf16", "int8", "int4"];

    /// <summary>The name of <paramref name="format"/>.</summary>
    public static string Name(WeightFormat format) => Names[(int)format];

    /// <summary>Parses a format name (float32 also as fp32; bf16 also as bfloat16).</summary>
    public static bool TryParse(string? name, out WeightFormat format)
    {
        format = name?.Trim().ToLowerInvariant() switch
        {
            "float32" or "fp32" or "f32" => WeightFormat.Float32,
            "bf16" or "bfloat16" => WeightFormat.BFloat16,
            "int8" => WeightFormat.Int8,
            "int4" or "q4" => WeightFormat.Int4,
            _ => (WeightFormat)(-1),
        };
        return format >= 0;
    }

    /// <summary>The format recorded in <paramref name="config"/>; throws naming <paramref name="source"/> and the field for an unknown one.</summary>
    public static WeightFormat Of(TokenFormerConfig config, string source = "config.json")
    {
        if (config.Extra == null || !config.Extra.TryGetValue(ConfigField, out JsonElement e)) return WeightFormat.Float32;
        string? name = e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        if (!TryParse(name, out WeightFormat f))
            throw new TokenFormerConfigException(
                $"{source}: {ConfigField} {e.GetRawText()} is not a weight format this version reads; expected one of {string.Join(", ", Names)}");
        return f;
    }

    /// <summary>Records <paramref name="format"/> in <paramref name="config"/> (float32 removes the field).</summary>
    public static void Set(TokenFormerConfig config, WeightFormat format)
    {
        if (format == WeightFormat.Float32) { config.Extra?.Remove(ConfigField); return; }
        // a JSON string from the reader, not the serializer: the serializer's machinery alone is about 2 MiB of mapped
        // code and compiled converters in a process that otherwise never serializes (docs/quantization.md, Resident memory)
        using JsonDocument name = JsonDocument.Parse("\"" + Name(format) + "\"");
        (config.Extra ??= [])[ConfigField] = name.RootElement.Clone();
    }
}

/// <summary>
/// The weights of a model in bfloat16, blocked int8 or blocked 4-bit (<see cref="WeightFormat"/>), one arena per kind
/// laid out at the float32 parameter offsets (4-bit: each matrix's rows of whole 16-byte blocks, in layout order), each
/// matrix contiguous along the dimension its forward product reduces over: the embedding and key tokens as in the
/// official layout ([V, d], [n, d_in]: the head z·Eᵀ and the scores x·K_Pᵀ reduce along d), the value tokens transposed
/// ([d_out, n]: the output S·V_P reduces along n). Block scales are [rows, ⌈columns/32⌉] per matrix, in layout order,
/// so the adjacent Q/K/V key tensors are also one matrix here. The final LayerNorm stays float32. Every product goes
/// through <see cref="ReducedMatrix"/> (Core's kernels).
/// </summary>
public sealed class ReducedPrecisionWeights : IWeightSource
{
    private readonly Dictionary<string, long> _scaleOffsets = [];
    private readonly Dictionary<string, long> _int4Offsets = [];
    private readonly Dictionary<string, float[]> _vectors = [];

    /// <summary>The storage format (bf16, int8 or int4).</summary>
    public WeightFormat Format { get; }
    /// <summary>The layout whose offsets the arenas follow.</summary>
    public ParameterLayout Layout { get; }
    /// <summary>bfloat16 values (bf16 format), at the float32 offsets.</summary>
    public ushort[]? BFloat16Values { get; }
    /// <summary>int8 values (int8 format), at the float32 offsets.</summary>
    public sbyte[]? Int8Values { get; }
    /// <summary>4-bit values (int4 format): each matrix's rows of whole blocks (<see cref="Int4Blocks"/>), in layout order.</summary>
    public byte[]? Int4Values { get; }
    /// <summary>Block scales (int8 and int4 formats), [rows, ⌈columns/32⌉] per matrix in layout order.</summary>
    public float[]? BlockScales { get; }

    /// <summary>Bytes of the stored matrices and scales (what the forward products read, at most once each).</summary>
    public long MatrixBytes => BFloat16Values != null ? 2L * BFloat16Values.LongLength
        : (Int8Values?.LongLength ?? Int4Values!.LongLength) + 4L * BlockScales!.LongLength;

    /// <summary>Empty (zero) weights of <paramref name="format"/> for <paramref name="layout"/>.</summary>
    public ReducedPrecisionWeights(ParameterLayout layout, WeightFormat format)
    {
        if (format == WeightFormat.Float32) throw new ArgumentException("float32 weights are the model's parameter arena (Float32Weights)");
        Format = format;
        Layout = layout;
        long scales = 0, packed = 0;
        foreach (ParameterTensor t in layout.Tensors)
        {
            if (t.Shape.Length == 1) { _vectors[t.Name] = new float[t.Length]; continue; }
            _scaleOffsets[t.Name] = scales;
            _int4Offsets[t.Name] = packed;
            (int rows, int cols) = StoredShape(t);
            scales += (long)rows * Int8Blocks.BlocksPerRow(cols);
            packed += (long)rows * Int4Blocks.BytesPerRow(cols);
        }
        if (format == WeightFormat.BFloat16) BFloat16Values = WeightArrays.Allocate<ushort>(layout.Count);
        else
        {
            if (format == WeightFormat.Int8) Int8Values = WeightArrays.Allocate<sbyte>(layout.Count);
            else Int4Values = WeightArrays.Allocate<byte>(packed);
            BlockScales = WeightArrays.Allocate<float>(scales);
        }
    }

    /// <summary>True for tensors kept transposed (value tokens: their product reduces along n).</summary>
    public static bool IsStoredTransposed(ParameterTensor t) => t.Role == ParameterRole.PattentionValues;

    /// <summary>The [rows, columns] a 2-D tensor is stored as (columns = the reduction dimension).</summary>
    public static (int Rows, int Columns) StoredShape(ParameterTensor t) =>
        IsStoredTransposed(t) ? (t.Shape[1], t.Shape[0]) : (t.Shape[0], t.Shape[1]);

    /// <summary>The stored matrix of layout tensor <paramref name="t"/> (in stored orientation).</summary>
    public ReducedMatrix Stored(ParameterTensor t)
    {
        (int rows, int cols) = StoredShape(t);
        return StoredView(t, rows, cols);
    }

    private ReducedMatrix StoredView(ParameterTensor t, int rows, int cols) => Format switch
    {
        WeightFormat.BFloat16 => ReducedMatrix.BFloat16(BFloat16Values!, t.Offset, rows, cols),
        WeightFormat.Int8 => ReducedMatrix.Int8(Int8Values!, t.Offset, BlockScales!, _scaleOffsets[t.Name], rows, cols),
        _ => ReducedMatrix.Int4(Int4Values!, _int4Offsets[t.Name], BlockScales!, _scaleOffsets[t.Name], rows, cols),
    };

    /// <summary>
    /// Stores tensor <paramref name="t"/> from float32 <paramref name="values"/> in the official orientation (converted,
    /// transposed for value tokens). Throws naming the tensor when a value is not finite.
    /// </summary>
    public void Store(ParameterTensor t, ReadOnlySpan<float> values)
    {
        if (values.Length != t.Length) throw new ArgumentException($"'{t.Name}': {values.Length} values for a tensor of {t.Length}");
        if (t.Shape.Length == 1) { values.CopyTo(_vectors[t.Name]); return; }
        (int rows, int cols) = StoredShape(t);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            if (IsStoredTransposed(t)) for (int c = 0; c < cols; c++) row[c] = values[c * rows + r];
            else values.Slice(r * cols, cols).CopyTo(row);
            StoreRow(t, r, row);
        }
    }

    /// <summary>Stores row <paramref name="row"/> (stored orientation) of tensor <paramref name="t"/> from float32 values.</summary>
    public void StoreRow(ParameterTensor t, int row, ReadOnlySpan<float> values)
    {
        (int rows, int cols) = StoredShape(t);
        if ((uint)row >= (uint)rows || values.Length != cols) throw new ArgumentException($"'{t.Name}': row {row} of [{rows}, {cols}] with {values.Length} values");
        int o = t.Offset + row * cols;
        for (int c = 0; c < cols; c++)
            if (!float.IsFinite(values[c]))
                throw new ArgumentException($"'{t.Name}' holds a non-finite value ({values[c]}) at stored row {row}, column {c}; only finite weights can be stored in {WeightFormats.Name(Format)}");
        int blocks = Int8Blocks.BlocksPerRow(cols);
        if (Format == WeightFormat.BFloat16) BFloat16.FromFloat(values, BFloat16Values.AsSpan(o, cols));
        else if (Format == WeightFormat.Int8)
            Int8Blocks.QuantizeRow(values, Int8Values.AsSpan(o, cols), BlockScales.AsSpan(checked((int)(_scaleOffsets[t.Name] + (long)row * blocks)), blocks));
        else
            Int4Blocks.QuantizeRow(values, Int4Values.AsSpan(checked((int)(_int4Offsets[t.Name] + (long)row * Int4Blocks.BytesPerRow(cols))), Int4Blocks.BytesPerRow(cols)),
                BlockScales.AsSpan(checked((int)(_scaleOffsets[t.Name] + (long)row * blocks)), blocks));
    }

    /// <summary>Tensor <paramref name="t"/> widened to float32 in the official orientation.</summary>
    public float[] ReadFloat32(ParameterTensor t)
    {
        if (t.Shape.Length == 1) return (float[])_vectors[t.Name].Clone();
        var result = new float[t.Length];
        ReducedMatrix m = Stored(t);
        float[] row = new float[m.Columns];
        for (int r = 0; r < m.Rows; r++)
        {
            m.DequantizeRow(r, row);
            if (IsStoredTransposed(t)) for (int c = 0; c < m.Columns; c++) result[c * m.Rows + r] = row[c];
            else row.CopyTo(result, r * m.Columns);
        }
        return result;
    }

    /// <summary>The float32 values of a 1-D tensor, writable (loading).</summary>
    public float[] VectorStorage(ParameterTensor t) => _vectors[t.Name];

    /// <summary>The first scale of tensor <paramref name="t"/> in <see cref="BlockScales"/>.</summary>
    public long ScaleOffset(ParameterTensor t) => _scaleOffsets[t.Name];

    /// <summary>The first byte of tensor <paramref name="t"/> in <see cref="Int4Values"/>.</summary>
    public long Int4Offset(ParameterTensor t) => _int4Offsets[t.Name];

    /// <inheritdoc/>
    public IWeightMatrix Matrix(ParameterTensor tensor)
    {
        if (tensor.Shape.Length != 2) throw new ArgumentException($"'{tensor.Name}' is not a matrix");
        ParameterTensor first = Layout.Find(tensor.Name) ?? throw new ArgumentException($"the layout has no tensor '{tensor.Name}'");
        if (first.Offset != tensor.Offset || first.Shape[^1] != tensor.Shape[1])
            throw new ArgumentException($"'{tensor.Name}': a view at offset {tensor.Offset} {string.Join('x', tensor.Shape)} does not start at the tensor");
        bool transposed = IsStoredTransposed(first);
        if (transposed && tensor.Shape[0] != first.Shape[0]) throw new ArgumentException($"'{tensor.Name}': value tokens are not stacked");
        // a stacked view (the Q/K/V keys as one [3n, d]) spans adjacent tensors of the same width, stored one after the other
        ReducedMatrix stored = transposed ? StoredView(first, tensor.Shape[1], tensor.Shape[0]) : StoredView(first, tensor.Shape[0], tensor.Shape[1]);
        return new ReducedWeightMatrix(stored, transposed);
    }

    /// <inheritdoc/>
    public ReadOnlyMemory<float> Vector(ParameterTensor tensor) =>
        _vectors.TryGetValue(tensor.Name, out float[]? v) ? v : throw new ArgumentException($"'{tensor.Name}' is not a vector tensor");

    /// <summary>
    /// Converts the float32 parameters of <paramref name="model"/> to <paramref name="format"/>. Throws naming the tensor
    /// when a weight is not finite.
    /// </summary>
    public static ReducedPrecisionWeights From(TokenFormerModel model, WeightFormat format)
    {
        if (model.ReducedWeights != null) throw new ArgumentException("the model is already stored in reduced precision");
        var w = new ReducedPrecisionWeights(model.Layout, format);
        foreach (ParameterTensor t in model.Layout.Tensors) w.Store(t, model.Parameters.AsSpan(t.Offset, t.Length));
        return w;
    }

    /// <summary>
    /// The official initialisation of <see cref="TokenFormerModel.InitializeRandom"/> (the same values for the same
    /// seed) stored straight in <paramref name="format"/>, never holding more than one tensor in float32 (benchmarks).
    /// </summary>
    public static TokenFormerModel RandomModel(TokenFormerConfig config, WeightFormat format, int seed)
    {
        config.Validate();
        var w = new ReducedPrecisionWeights(new ParameterLayout(config, config.Vocab), format);
        var rng = new Random(seed);
        // one buffer for the tensors drawn whole (vectors, value tokens), so that building leaves no garbage behind
        float[] buffer = new float[w.Layout.Tensors.Where(t => t.Shape.Length == 1 || IsStoredTransposed(t)).Max(t => t.Length)];
        foreach (ParameterTensor t in w.Layout.Tensors)
        {
            double std = t.InitialStd(config);
            if (t.Shape.Length == 1 || IsStoredTransposed(t))
            {
                Span<float> values = buffer.AsSpan(0, t.Length);
                if (double.IsNaN(std)) values.Fill(t.InitialConstant);
                else GaussianFill.Fill(rng, values, std);
                w.Store(t, values);
                continue;
            }
            // row by row: GaussianFill draws pairs, so the rows continue the tensor's sequence only when each row is even
            int cols = t.Shape[1];
            if (cols % 2 != 0)
            {
                float[] all = new float[t.Length];
                GaussianFill.Fill(rng, all, std);
                w.Store(t, all);
                continue;
            }
            float[] row = new float[cols];
            for (int r = 0; r < t.Shape[0]; r++)
            {
                GaussianFill.Fill(rng, row, std);
                w.StoreRow(t, r, row);
            }
        }
        return new TokenFormerModel(config, w);
    }
}

/// <summary>
/// A weight matrix W as seen by the model, over a <see cref="ReducedMatrix"/> S that is W itself or, for value tokens,
/// Wᵀ (so the forward product always reduces along S's rows: <see cref="ReducedMatrix.MultiplyTransposed"/>).
/// </summary>
internal sealed class ReducedWeightMatrix(ReducedMatrix stored, bool transposed) : IWeightMatrix
{
    public int Rows => transposed ? stored.Columns : stored.Rows;
    public int Columns => transposed ? stored.Rows : stored.Columns;

    public void MultiplyTransposed(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate)
    {
        if (transposed) stored.Multiply(m, a, aOffset, lda, c, cOffset, ldc, accumulate);
        else stored.MultiplyTransposed(m, a, aOffset, lda, c, cOffset, ldc, accumulate);
    }

    public void Multiply(int m, float[] a, int aOffset, int lda, float[] c, int cOffset, int ldc, bool accumulate)
    {
        if (transposed) stored.MultiplyTransposed(m, a, aOffset, lda, c, cOffset, ldc, accumulate);
        else stored.Multiply(m, a, aOffset, lda, c, cOffset, ldc, accumulate);
    }

    public void ReadRow(int row, Span<float> destination)
    {
        if (transposed) stored.ReadColumn(row, destination);
        else stored.DequantizeRow(row, destination);
    }

    public IWeightMatrix RowRange(int first, int count)
    {
        if (transposed) throw new NotSupportedException("value tokens are stored transposed (blocked along their rows), so a range of their rows is not a view");
        return new ReducedWeightMatrix(stored.RowRange(first, count), false);
    }
}
