using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace TokenFormer.Core.SafeTensors;

/// <summary>
/// A validated, memory-mapped safetensors file (layout: u64 little-endian header length N, N bytes of UTF-8 JSON,
/// then the packed tensor bytes). Opening checks the header length, the JSON, the dtypes, shapes and that the
/// data offsets are contiguous from 0, match numel·itemsize and cover the data section exactly. Tensor bytes are
/// read lazily from the mapping, so large checkpoints are not loaded into managed memory at once.
/// Every error names the file (and the key where one is involved).
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>Largest accepted JSON header, as in the reference implementation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _handle;

    /// <summary>Path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>Tensor entries in the order of their data offsets.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The optional <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, List<SafeTensorInfo> tensors, Dictionary<string, string> metadata,
        MemoryMappedFile? map, MemoryMappedViewAccessor? view, long dataStart)
    {
        Path = path;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name);
        _map = map;
        _view = view;
        _dataStart = dataStart;
        if (view != null)
        {
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + view.PointerOffset;
        }
    }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="SafeTensorsFormatException"/> when malformed.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        long fileLength;
        byte[] header;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            fileLength = fs.Length;
            if (fileLength < 8)
                throw new SafeTensorsFormatException($"{path}: {fileLength} bytes is too short for a safetensors file (needs an 8-byte header length)");
            Span<byte> lenBytes = stackalloc byte[8];
            fs.ReadExactly(lenBytes);
            ulong n = BitConverter.ToUInt64(lenBytes);
            if (n > MaxHeaderBytes)
                throw new SafeTensorsFormatException($"{path}: header length {n} exceeds the limit of {MaxHeaderBytes} bytes");
            if ((long)n > fileLength - 8)
                throw new SafeTensorsFormatException($"{path}: header length {n} runs past the end of the {fileLength}-byte file");
            header = new byte[n];
            fs.ReadExactly(header);
        }
        long dataStart = 8 + header.Length;
        long dataLength = fileLength - dataStart;
        var (tensors, metadata) = ParseHeader(path, header, dataLength);

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        if (fileLength > 0 && dataLength > 0)
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, fileLength, MemoryMappedFileAccess.Read);
        }
        return new SafeTensorsFile(path, tensors, metadata, map, view, dataStart);
    }

    private static (List<SafeTensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            string text = new UTF8Encoding(false, true).GetString(header);
            doc = JsonDocument.Parse(text);
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException)
        {
            throw new SafeTensorsFormatException($"{path}: header is not valid UTF-8 JSON ({e.Message})");
        }
        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException($"{path}: header must be a JSON object, found {doc.RootElement.ValueKind}");
            var tensors = new List<SafeTensorInfo>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(p.Name)) throw new SafeTensorsFormatException($"{path}: duplicate key '{p.Name}' in the header");
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object)
                        throw new SafeTensorsFormatException($"{path}: __metadata__ must be an object of strings");
                    foreach (JsonProperty m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new SafeTensorsFormatException($"{path}: __metadata__ value '{m.Name}' must be a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                tensors.Add(ParseEntry(path, p));
            }
            tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long expected = 0;
            foreach (SafeTensorInfo t in tensors)
            {
                if (t.Begin != expected)
                    throw new SafeTensorsFormatException(
                        $"{path}: tensor '{t.Name}' starts at byte {t.Begin} but the previous tensor ends at {expected} (offsets must be contiguous without gaps or overlap)");
                expected = t.End;
            }
            if (expected != dataLength)
                throw new SafeTensorsFormatException(
                    $"{path}: tensors cover {expected} bytes but the data section has {dataLength} bytes (incomplete or oversized buffer)");
            return (tensors, metadata);
        }
        catch (InvalidOperationException) when (IO.JsonStrings.FirstUndecodable(header) is { } bad)
        {
            // System.Text.Json parses a \u escape that is not valid UTF-16 and throws only when the string is read
            throw new SafeTensorsFormatException($"{path}: header: {IO.JsonStrings.Describe(bad)}");
        }
    }

    private static SafeTensorInfo ParseEntry(string path, JsonProperty p)
    {
        JsonElement e = p.Value;
        if (e.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{path}: entry '{p.Name}' must be an object with dtype, shape and data_offsets");
        if (!e.TryGetProperty("dtype", out JsonElement dt) || dt.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' has no string 'dtype'");
        if (!SafeTensorDTypes.TryParse(dt.GetString()!, out SafeTensorDType dtype))
            throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' has unsupported dtype '{dt.GetString()}'");
        if (!e.TryGetProperty("shape", out JsonElement sh) || sh.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' has no 'shape' array");
        var shape = new List<long>();
        foreach (JsonElement d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' has an invalid dimension {d} in its shape");
            shape.Add(v);
        }
        if (!e.TryGetProperty("data_offsets", out JsonElement off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' needs 'data_offsets' [begin, end]");
        // TryGetInt64 throws (InvalidOperationException) for an element that is not a number, so the kind is checked first
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' has invalid data_offsets {off}");
        var info = new SafeTensorInfo(p.Name, dtype, shape.ToArray(), begin, end);
        long numel;
        try { numel = info.ElementCount; }
        catch (OverflowException) { throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' shape {info.ShapeText} is too large"); }
        int itemSize = SafeTensorDTypes.ItemSize(dtype);
        // numel fits in a long, but numel × item size may not: a wrapped product could match an empty range
        // (F64 [2^61] "needs" 0 bytes), and the tensor would then be accepted with no data behind it.
        if (numel > long.MaxValue / itemSize)
            throw new SafeTensorsFormatException($"{path}: tensor '{p.Name}' {dtype} {info.ShapeText} needs more than 2^63 bytes; the shape is corrupt");
        long bytes = numel * itemSize;
        if (end - begin != bytes)
            throw new SafeTensorsFormatException(
                $"{path}: tensor '{p.Name}' {dtype} {info.ShapeText} needs {bytes} bytes but data_offsets [{begin}, {end}] span {end - begin}");
        return info;
    }

    /// <summary>True when the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry named <paramref name="name"/>; throws naming the file and key when absent.</summary>
    public SafeTensorInfo Get(string name) =>
        _byName.TryGetValue(name, out SafeTensorInfo? t) ? t
            : throw new SafeTensorsFormatException($"{Path}: tensor '{name}' is missing");

    /// <summary>The raw little-endian bytes of a tensor (a view into the mapping, valid until Dispose).</summary>
    public ReadOnlySpan<byte> GetBytes(SafeTensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long len = t.End - t.Begin;
        if (len == 0) return ReadOnlySpan<byte>.Empty;
        if (len > int.MaxValue)
            throw new SafeTensorsFormatException($"{Path}: tensor '{t.Name}' is larger than 2 GiB; read it in parts with CopyBytes");
        return new ReadOnlySpan<byte>(_base + _dataStart + t.Begin, (int)len);
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> as float32 into <paramref name="destination"/> (its length must equal the
    /// element count), widening F16, BF16 and F64. Throws naming file, key and sizes on a mismatch.
    /// </summary>
    public void ReadFloat32(string name, Span<float> destination)
    {
        SafeTensorInfo t = Get(name);
        if (t.ElementCount != destination.Length)
            throw new SafeTensorsFormatException(
                $"{Path}: tensor '{name}' has {t.ElementCount} elements {t.ShapeText} but {destination.Length} were expected");
        ReadOnlySpan<byte> bytes = t.DType == SafeTensorDType.F32 ? default : GetBytes(t);
        switch (t.DType)
        {
            case SafeTensorDType.F32:
                // straight from the file into the destination, not through the mapping (see ReadBytes)
                ReadBytes(t, 0, MemoryMarshal.AsBytes(destination));
                break;
            case SafeTensorDType.F16:
            {
                ReadOnlySpan<Half> h = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < h.Length; i++) destination[i] = (float)h[i];
                break;
            }
            case SafeTensorDType.BF16:
            {
                ReadOnlySpan<ushort> h = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < h.Length; i++) destination[i] = BitConverter.Int32BitsToSingle(h[i] << 16);
                break;
            }
            case SafeTensorDType.F64:
            {
                ReadOnlySpan<double> h = MemoryMarshal.Cast<byte, double>(bytes);
                for (int i = 0; i < h.Length; i++) destination[i] = (float)h[i];
                break;
            }
            default:
                throw new SafeTensorsFormatException($"{Path}: tensor '{name}' has dtype {t.DType}, expected a floating-point type (F32, F16, BF16, F64)");
        }
    }

    /// <summary>Reads a floating-point tensor as a new float32 array.</summary>
    public float[] ReadFloat32(string name)
    {
        var result = new float[checked((int)Get(name).ElementCount)];
        ReadFloat32(name, result);
        return result;
    }

    /// <summary>Reads an integer tensor (I64, I32, U8…) as a new int64 array.</summary>
    public long[] ReadInt64(string name)
    {
        SafeTensorInfo t = Get(name);
        ReadOnlySpan<byte> b = GetBytes(t);
        var r = new long[checked((int)t.ElementCount)];
        switch (t.DType)
        {
            case SafeTensorDType.I64: MemoryMarshal.Cast<byte, long>(b).CopyTo(r); break;
            case SafeTensorDType.I32: { var s = MemoryMarshal.Cast<byte, int>(b); for (int i = 0; i < r.Length; i++) r[i] = s[i]; break; }
            case SafeTensorDType.U32: { var s = MemoryMarshal.Cast<byte, uint>(b); for (int i = 0; i < r.Length; i++) r[i] = s[i]; break; }
            case SafeTensorDType.I16: { var s = MemoryMarshal.Cast<byte, short>(b); for (int i = 0; i < r.Length; i++) r[i] = s[i]; break; }
            case SafeTensorDType.U16: { var s = MemoryMarshal.Cast<byte, ushort>(b); for (int i = 0; i < r.Length; i++) r[i] = s[i]; break; }
            case SafeTensorDType.U8 or SafeTensorDType.BOOL: for (int i = 0; i < r.Length; i++) r[i] = b[i]; break;
            case SafeTensorDType.I8: for (int i = 0; i < r.Length; i++) r[i] = (sbyte)b[i]; break;
            default:
                throw new SafeTensorsFormatException($"{Path}: tensor '{name}' has dtype {t.DType}, expected an integer type");
        }
        return r;
    }

    private bool _disposed;

    /// <summary>
    /// Copies the bytes of tensor <paramref name="t"/> from byte <paramref name="offset"/> of the tensor on into
    /// <paramref name="destination"/> with positional reads of the file rather than through the mapping: the file's
    /// pages then stay in the page cache and are never counted in this process's resident memory, so loading a model
    /// holds its weights once (in their final arrays), not twice (docs/quantization.md, Resident memory).
    /// </summary>
    public void ReadBytes(SafeTensorInfo t, long offset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || offset + destination.Length > t.End - t.Begin)
            throw new ArgumentException($"{Path}: bytes [{offset}, {offset + destination.Length}) are outside tensor '{t.Name}' ({t.End - t.Begin} bytes)");
        _handle ??= File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long at = _dataStart + t.Begin + offset;
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_handle, destination, at);
            if (n == 0) throw new SafeTensorsFormatException($"{Path}: tensor '{t.Name}' ends early (the file was shortened while it was read)");
            destination = destination[n..];
            at += n;
        }
    }

    /// <summary>Releases the mapping; spans obtained from <see cref="GetBytes"/> become invalid.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _handle?.Dispose();
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
