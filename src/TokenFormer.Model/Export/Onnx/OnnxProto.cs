using System.Buffers.Binary;
using System.Text;

namespace TokenFormer.Model.Export.Onnx;

/// <summary>
/// A minimal writer of ONNX's protobuf messages (onnx.proto: ModelProto, GraphProto, NodeProto, AttributeProto,
/// TensorProto, ValueInfoProto), written field by field in the protobuf wire format (varint keys, length-delimited
/// sub-messages) so the export needs no protobuf library. Only the fields the exporter uses are here.
/// </summary>
public sealed class ProtoWriter
{
    private readonly MemoryStream _out = new();

    /// <summary>The underlying buffer (for appending another writer's bytes).</summary>
    internal Stream Stream => _out;

    /// <summary>The bytes written so far.</summary>
    public byte[] ToArray() => _out.ToArray();

    /// <summary>Bytes written so far.</summary>
    public long Length => _out.Length;

    /// <summary>Copies the bytes written so far to <paramref name="stream"/>.</summary>
    public void CopyTo(Stream stream) => stream.Write(_out.GetBuffer(), 0, (int)_out.Length);

    /// <summary>
    /// The key and length of a length-delimited field whose <paramref name="length"/> bytes the caller writes after
    /// these (so a large field, a weight tensor's raw data, is streamed instead of copied into this writer).
    /// </summary>
    public ProtoWriter LengthPrefix(int field, long length) { Key(field, 2); Varint((ulong)length); return this; }

    /// <summary>Bytes a varint of <paramref name="v"/> takes.</summary>
    public static int VarintSize(ulong v)
    {
        int n = 1;
        while (v >= 0x80) { v >>= 7; n++; }
        return n;
    }

    private void Varint(ulong v)
    {
        while (v >= 0x80) { _out.WriteByte((byte)(v | 0x80)); v >>= 7; }
        _out.WriteByte((byte)v);
    }

    private void Key(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

    /// <summary>An int64/int32/enum field (varint; negative values as 10-byte two's complement, as protobuf does).</summary>
    public ProtoWriter Int(int field, long value) { Key(field, 0); Varint((ulong)value); return this; }

    /// <summary>A float field (fixed32, little-endian).</summary>
    public ProtoWriter Float(int field, float value)
    {
        Key(field, 5);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _out.Write(b);
        return this;
    }

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value) { Key(field, 2); Varint((ulong)value.Length); _out.Write(value); return this; }

    /// <summary>A string field (UTF-8).</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A sub-message field, built by <paramref name="build"/>.</summary>
    public ProtoWriter Message(int field, Action<ProtoWriter> build)
    {
        var inner = new ProtoWriter();
        build(inner);
        return Bytes(field, inner._out.GetBuffer().AsSpan(0, (int)inner._out.Length));
    }
}

/// <summary>ONNX element types (TensorProto.DataType) the exporter writes.</summary>
public enum OnnxType
{
    /// <summary>float32.</summary>
    Float = 1,
    /// <summary>int64.</summary>
    Int64 = 7,
}

/// <summary>An ONNX node attribute: an int, a float, ints or a string (set exactly one).</summary>
/// <param name="Name">The attribute's name, e.g. "perm".</param>
/// <param name="Int">An INT attribute.</param>
/// <param name="Float">A FLOAT attribute.</param>
/// <param name="Ints">An INTS attribute.</param>
/// <param name="Text">A STRING attribute.</param>
public sealed record OnnxAttribute(string Name, long? Int = null, float? Float = null, long[]? Ints = null, string? Text = null)
{
    internal void Write(ProtoWriter w)
    {
        // AttributeProto: name 1, f 2, i 3, s 4, ints 8, type 20 (FLOAT 1, INT 2, STRING 3, INTS 7).
        w.String(1, Name);
        if (Float is float f) { w.Float(2, f); w.Int(20, 1); }
        else if (Int is long i) { w.Int(3, i); w.Int(20, 2); }
        else if (Text is string s) { w.String(4, s); w.Int(20, 3); }
        else if (Ints is long[] ints) { foreach (long v in ints) w.Int(8, v); w.Int(20, 7); }
        else throw new InvalidOperationException($"attribute '{Name}' has no value");
    }
}

/// <summary>One node: operator, inputs, outputs, attributes.</summary>
/// <param name="OpType">The operator in the default domain, e.g. "MatMul".</param>
/// <param name="Inputs">Names of the input values ("" for an omitted optional input).</param>
/// <param name="Outputs">Names of the output values.</param>
/// <param name="Attributes">The attributes, or null.</param>
/// <param name="Name">The node's name, or null.</param>
public sealed record OnnxNode(string OpType, string[] Inputs, string[] Outputs, OnnxAttribute[]? Attributes = null, string? Name = null);

/// <summary>A graph input or output: name, element type and shape.</summary>
/// <param name="Name">The value's name.</param>
/// <param name="Type">Its element type.</param>
/// <param name="Shape">Per dimension a number (fixed) or a string (a symbolic dimension such as "batch").</param>
public sealed record OnnxValue(string Name, OnnxType Type, object[] Shape);

/// <summary>A constant tensor (initializer), float32 or int64, stored as raw little-endian data.</summary>
/// <param name="Name">The tensor's name, used as a node input.</param>
/// <param name="Type">Its element type.</param>
/// <param name="Dims">Its shape.</param>
/// <param name="RawData">The elements, little-endian, row-major.</param>
public sealed record OnnxTensor(string Name, OnnxType Type, long[] Dims, byte[] RawData)
{
    /// <summary>A float32 tensor from <paramref name="values"/> (row-major).</summary>
    public static OnnxTensor Floats(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var raw = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        return new OnnxTensor(name, OnnxType.Float, dims, raw);
    }

    /// <summary>An int64 tensor from <paramref name="values"/>.</summary>
    public static OnnxTensor Longs(string name, long[] dims, ReadOnlySpan<long> values)
    {
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        return new OnnxTensor(name, OnnxType.Int64, dims, raw);
    }

    internal void Write(ProtoWriter w)
    {
        WriteHeader(w);
        w.Bytes(9, RawData);
    }

    /// <summary>TensorProto without its data: dims 1, data_type 2, name 8 (raw_data 9 follows).</summary>
    internal void WriteHeader(ProtoWriter w)
    {
        foreach (long d in Dims) w.Int(1, d);
        w.Int(2, (int)Type);
        w.String(8, Name);
    }

    /// <summary>
    /// TensorProto whose data lie in another file: external_data 13 (StringStringEntryProto key 1, value 2: location,
    /// offset, length) and data_location 14 = EXTERNAL (1).
    /// </summary>
    internal void WriteExternal(ProtoWriter w, string location, long offset)
    {
        WriteHeader(w);
        foreach (var (key, value) in new[] { ("location", location), ("offset", offset.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                     ("length", RawData.LongLength.ToString(System.Globalization.CultureInfo.InvariantCulture)) })
            w.Message(13, e => e.String(1, key).String(2, value));
        w.Int(14, 1);
    }
}

/// <summary>An ONNX model: one graph, the default operator set at <see cref="Opset"/>.</summary>
public sealed class OnnxModel
{
    /// <summary>IR version written (8 = ONNX 1.10+; ONNX Runtime reads it).</summary>
    public const long IrVersion = 8;

    /// <summary>The graph's name.</summary>
    public required string GraphName { get; init; }
    /// <summary>Version of the default ("ai.onnx") operator set the nodes follow.</summary>
    public int Opset { get; init; } = 17;
    /// <summary>The nodes, in topological order.</summary>
    public List<OnnxNode> Nodes { get; } = [];
    /// <summary>The constant tensors (weights).</summary>
    public List<OnnxTensor> Initializers { get; } = [];
    /// <summary>The graph's inputs.</summary>
    public List<OnnxValue> Inputs { get; } = [];
    /// <summary>The graph's outputs.</summary>
    public List<OnnxValue> Outputs { get; } = [];

    /// <summary>Tensors at least this large go to the external data file when one is used; smaller ones stay inline.</summary>
    public const int ExternalThresholdBytes = 1024;

    /// <summary>The serialized ModelProto, every weight inline.</summary>
    public byte[] ToBytes()
    {
        var stream = new MemoryStream();
        WriteTo(stream, null, null);
        return stream.ToArray();
    }

    /// <summary>Bytes the ModelProto takes with every weight inline.</summary>
    public long InlineSize => GraphPieces(null, null).Sum(p => p.Length) + 64;

    /// <summary>
    /// Writes the model to <paramref name="path"/> through a temporary file renamed into place. With
    /// <paramref name="externalData"/> (a file name beside <paramref name="path"/>) every weight goes into that file
    /// (each of at least ExternalThresholdBytes at a 4096-byte aligned offset, the protobuf keeping its location, offset and length), which keeps the
    /// ModelProto under protobuf's 2 GiB limit; the data file is written (and renamed) first.
    /// </summary>
    public void Save(string path, string? externalData = null)
    {
        if (externalData is not null && (externalData.Contains('/') || externalData.Contains('\\') || externalData.Length == 0))
            throw new ArgumentException($"the external data file '{externalData}' must be a plain file name beside the model");
        string tmp = path + ".tmp";
        try
        {
            if (externalData is null)
            {
                using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                    WriteTo(f, null, null);
            }
            else
            {
                string dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, externalData);
                string dataTmp = dataPath + ".tmp";
                var offsets = new Dictionary<OnnxTensor, long>(ReferenceEqualityComparer.Instance);
                using (var d = new FileStream(dataTmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    foreach (OnnxTensor t in Initializers)
                    {
                        // small tensors (shapes, scalars) stay inline: ONNX Runtime's shape inference reads them from the graph
                        if (t.RawData.Length < ExternalThresholdBytes) continue;
                        long aligned = (d.Position + 4095) / 4096 * 4096;
                        while (d.Position < aligned) d.WriteByte(0);
                        offsets[t] = d.Position;
                        d.Write(t.RawData);
                    }
                }
                File.Move(dataTmp, dataPath, overwrite: true);
                using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                    WriteTo(f, externalData, offsets);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8.</summary>
    private void WriteTo(Stream stream, string? location, Dictionary<OnnxTensor, long>? offsets)
    {
        List<Piece> graph = GraphPieces(location, offsets);
        var w = new ProtoWriter();
        w.Int(1, IrVersion);
        w.String(2, "tokenformer");
        w.String(3, "1");
        w.LengthPrefix(7, graph.Sum(p => p.Length));
        w.CopyTo(stream);
        // the graph is streamed piece by piece: a weight's raw bytes are written from its own array, never copied
        foreach (Piece p in graph)
        {
            p.Prefix.CopyTo(stream);
            if (p.Raw is not null) stream.Write(p.Raw);
        }
        var tail = new ProtoWriter();
        tail.Message(8, o => o.String(1, "").Int(2, Opset));
        tail.CopyTo(stream);
    }

    /// <summary>A part of the GraphProto: serialized bytes, then optionally a weight's raw data.</summary>
    private sealed record Piece(ProtoWriter Prefix, byte[]? Raw)
    {
        public long Length => Prefix.Length + (Raw?.LongLength ?? 0);
    }

    /// <summary>GraphProto fields: node 1, name 2, initializer 5, input 11, output 12.</summary>
    private List<Piece> GraphPieces(string? location, Dictionary<OnnxTensor, long>? offsets)
    {
        var pieces = new List<Piece>();
        foreach (OnnxNode n in Nodes)
            pieces.Add(new Piece(new ProtoWriter().Message(1, nw =>
            {
                // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
                foreach (string i in n.Inputs) nw.String(1, i);
                foreach (string o in n.Outputs) nw.String(2, o);
                if (n.Name is not null) nw.String(3, n.Name);
                nw.String(4, n.OpType);
                foreach (OnnxAttribute a in n.Attributes ?? []) nw.Message(5, a.Write);
            }), null));
        pieces.Add(new Piece(new ProtoWriter().String(2, GraphName), null));
        foreach (OnnxTensor t in Initializers)
        {
            if (location is not null && offsets!.ContainsKey(t))
            {
                pieces.Add(new Piece(new ProtoWriter().Message(5, tw => t.WriteExternal(tw, location, offsets![t])), null));
                continue;
            }
            var header = new ProtoWriter();
            t.WriteHeader(header);
            long rawField = 1 + ProtoWriter.VarintSize((ulong)t.RawData.LongLength) + t.RawData.LongLength;
            var prefix = new ProtoWriter().LengthPrefix(5, header.Length + rawField);
            header.CopyTo(prefix.Stream);
            prefix.LengthPrefix(9, t.RawData.LongLength);
            pieces.Add(new Piece(prefix, t.RawData));
        }
        foreach (OnnxValue v in Inputs) pieces.Add(new Piece(new ProtoWriter().Message(11, vw => WriteValue(vw, v)), null));
        foreach (OnnxValue v in Outputs) pieces.Add(new Piece(new ProtoWriter().Message(12, vw => WriteValue(vw, v)), null));
        return pieces;
    }

    private static void WriteValue(ProtoWriter w, OnnxValue v)
    {
        // ValueInfoProto: name 1, type 2 → TypeProto.tensor_type 1 → elem_type 1, shape 2 → dim 1 → dim_value 1 | dim_param 2.
        w.String(1, v.Name);
        w.Message(2, t => t.Message(1, tt =>
        {
            tt.Int(1, (int)v.Type);
            tt.Message(2, s =>
            {
                foreach (object d in v.Shape)
                    s.Message(1, dim =>
                    {
                        if (d is string name) dim.String(2, name);
                        else dim.Int(1, Convert.ToInt64(d));
                    });
            });
        }));
    }
}
