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

    /// <summary>The bytes written so far.</summary>
    public byte[] ToArray() => _out.ToArray();

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
        // TensorProto: dims 1, data_type 2, name 8, raw_data 9.
        foreach (long d in Dims) w.Int(1, d);
        w.Int(2, (int)Type);
        w.String(8, Name);
        w.Bytes(9, RawData);
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

    /// <summary>The serialized ModelProto.</summary>
    public byte[] ToBytes()
    {
        // ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8.
        var w = new ProtoWriter();
        w.Int(1, IrVersion);
        w.String(2, "tokenformer");
        w.String(3, "1");
        w.Message(7, g =>
        {
            // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
            foreach (OnnxNode n in Nodes)
                g.Message(1, nw =>
                {
                    // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
                    foreach (string i in n.Inputs) nw.String(1, i);
                    foreach (string o in n.Outputs) nw.String(2, o);
                    if (n.Name is not null) nw.String(3, n.Name);
                    nw.String(4, n.OpType);
                    foreach (OnnxAttribute a in n.Attributes ?? []) nw.Message(5, a.Write);
                });
            g.String(2, GraphName);
            foreach (OnnxTensor t in Initializers) g.Message(5, t.Write);
            foreach (OnnxValue v in Inputs) g.Message(11, vw => WriteValue(vw, v));
            foreach (OnnxValue v in Outputs) g.Message(12, vw => WriteValue(vw, v));
        });
        w.Message(8, o => o.String(1, "").Int(2, Opset));
        return w.ToArray();
    }

    /// <summary>Writes the model to <paramref name="path"/> through a temporary file renamed into place.</summary>
    public void Save(string path)
    {
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, ToBytes());
        File.Move(tmp, path, overwrite: true);
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
