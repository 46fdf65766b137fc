using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace TokenFormer.Model.Tests.Import;

/// <summary>Writes hand-made pickles, byte by byte, and stores them in torch.save-style zip archives (tests only).</summary>
internal sealed class PickleBuilder
{
    private readonly List<byte> _b = [];

    public byte[] ToArray() => _b.ToArray();
    public PickleBuilder Op(byte op) { _b.Add(op); return this; }
    public PickleBuilder Bytes(params byte[] bytes) { _b.AddRange(bytes); return this; }
    public PickleBuilder Proto(int p = 2) => Op(0x80).Op((byte)p);
    public PickleBuilder Mark() => Op((byte)'(');
    public PickleBuilder Stop() => Op((byte)'.');
    public PickleBuilder Global(string module, string name) => Op((byte)'c').Bytes(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
    public PickleBuilder EmptyTuple() => Op((byte)')');
    public PickleBuilder Tuple() => Op((byte)'t');
    public PickleBuilder Reduce() => Op((byte)'R');
    public PickleBuilder PersId() => Op((byte)'Q');
    public PickleBuilder SetItems() => Op((byte)'u');
    public PickleBuilder False() => Op(0x89);

    public PickleBuilder Unicode(string s)
    {
        byte[] u = Encoding.UTF8.GetBytes(s);
        Op((byte)'X');
        var len = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)u.Length);
        return Bytes(len).Bytes(u);
    }

    /// <summary>An integer as BININT (32-bit) or LONG1 (8 bytes).</summary>
    public PickleBuilder Int(long v)
    {
        if (v >= int.MinValue && v <= int.MaxValue)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            return Op((byte)'J').Bytes(b);
        }
        var l = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(l, v);
        return Op(0x8a).Op(8).Bytes(l);
    }

    public PickleBuilder IntTuple(params long[] values)
    {
        Mark();
        foreach (long v in values) Int(v);
        return Tuple();
    }

    public PickleBuilder OrderedDict() => Global("collections", "OrderedDict").EmptyTuple().Reduce();

    /// <summary>Pushes a storage persistent id: ('storage', torch.{type}, key, 'cpu', numel), BINPERSID.</summary>
    public PickleBuilder Storage(string key, long numel, string type = "FloatStorage") =>
        Mark().Unicode("storage").Global("torch", type).Unicode(key).Unicode("cpu").Int(numel).Tuple().PersId();

    /// <summary>Pushes _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) and REDUCE.</summary>
    public PickleBuilder Tensor(string key, long numel, long offset, long[] size, long[] stride, string type = "FloatStorage") =>
        Global("torch._utils", "_rebuild_tensor_v2").Mark().Storage(key, numel, type).Int(offset).IntTuple(size).IntTuple(stride)
            .False().OrderedDict().Tuple().Reduce();
}

internal static class TorchArchiveBuilder
{
    /// <summary>Writes a stored (uncompressed) zip with members under "archive/" to a temporary file; returns its path.</summary>
    public static string Write(byte[] pickle, IReadOnlyDictionary<string, byte[]> storages, string? directory = null)
    {
        string dir = directory ?? TempDir.Create();
        string path = Path.Combine(dir, "model.bin");
        using (var fs = File.Create(path))
        using (var zip = new ZipArchive(fs, ZipArchiveMode.Create))
        {
            void Add(string name, byte[] data)
            {
                ZipArchiveEntry e = zip.CreateEntry(name, CompressionLevel.NoCompression);
                using Stream s = e.Open();
                s.Write(data);
            }
            Add("archive/data.pkl", pickle);
            foreach (var (key, data) in storages) Add("archive/data/" + key, data);
            Add("archive/version", Encoding.ASCII.GetBytes("3\n"));
        }
        return path;
    }

    public static byte[] Floats(params float[] values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        return b;
    }
}

/// <summary>Temporary folders removed when the test process exits.</summary>
internal static class TempDir
{
    private static readonly List<string> Created = [];

    static TempDir()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Created)
                foreach (string d in Created)
                    try { Directory.Delete(d, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
    }

    public static string Create()
    {
        string d = Path.Combine(Path.GetTempPath(), "tf-import-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(d);
        lock (Created) Created.Add(d);
        return d;
    }
}
