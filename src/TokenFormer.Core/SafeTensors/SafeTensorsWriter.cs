using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace TokenFormer.Core.SafeTensors;

/// <summary>
/// Collects tensors and writes them as one safetensors file: entries sorted by descending dtype alignment, then by
/// name (as the reference writer does) — or in the order they were added, when constructed with
/// <c>keepInsertionOrder</c> — packed back to back; the JSON header is padded with spaces to a multiple of
/// 8 bytes. <see cref="Save"/> writes to a temporary file beside the target and renames it into place.
/// The writer keeps references to the callers' arrays (no copy) until Save returns.
/// </summary>
/// <param name="keepInsertionOrder">
/// Lay the data out in the order tensors were added (e.g. the order of a source file being converted, so that it
/// is read sequentially). Readers find tensors by their offsets, so any order is a valid file.
/// </param>
public sealed class SafeTensorsWriter(bool keepInsertionOrder = false)
{
    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = [];

    /// <summary>Optional <c>__metadata__</c> strings.</summary>
    public Dictionary<string, string> Metadata { get; } = [];

    /// <summary>
    /// Writes a streamed tensor's bytes into the open file at the given offset; it must write exactly the declared
    /// byte length there.
    /// </summary>
    public delegate void WriteAt(SafeFileHandle file, long offset);

    private sealed record Entry(string Name, SafeTensorDType DType, long[] Shape, ReadOnlyMemory<byte>? Bytes, ReadOnlyMemory<float>? Floats,
        ReadOnlyMemory<long>? Longs, long StreamedLength = 0, WriteAt? Streamed = null)
    {
        public long ByteLength => Streamed != null ? StreamedLength : Bytes?.Length ?? (Floats?.Length * 4L) ?? (Longs!.Value.Length * 8L);
    }

    /// <summary>Adds a float32 tensor of <paramref name="shape"/> (data length must equal the element count).</summary>
    public void AddFloat32(string name, ReadOnlyMemory<float> data, params long[] shape) =>
        Add(new Entry(name, SafeTensorDType.F32, shape, null, data, null), data.Length);

    /// <summary>Adds an int64 tensor of <paramref name="shape"/>.</summary>
    public void AddInt64(string name, ReadOnlyMemory<long> data, params long[] shape) =>
        Add(new Entry(name, SafeTensorDType.I64, shape, null, null, data), data.Length);

    /// <summary>Adds a tensor of any dtype from raw little-endian bytes.</summary>
    public void AddBytes(string name, SafeTensorDType dtype, ReadOnlyMemory<byte> data, params long[] shape)
    {
        int size = SafeTensorDTypes.ItemSize(dtype);
        if (data.Length % size != 0)
            throw new ArgumentException($"tensor '{name}': {data.Length} bytes is not a multiple of the {dtype} item size {size}");
        Add(new Entry(name, dtype, shape, data, null, null), data.Length / size);
    }

    /// <summary>
    /// Adds a tensor whose <paramref name="byteLength"/> bytes are produced by <paramref name="write"/> during
    /// <see cref="Save"/> (e.g. copied straight from another file), so they never have to be held in memory.
    /// </summary>
    public void AddStreamed(string name, SafeTensorDType dtype, long[] shape, long byteLength, WriteAt write)
    {
        int size = SafeTensorDTypes.ItemSize(dtype);
        if (byteLength < 0 || byteLength % size != 0)
            throw new ArgumentException($"tensor '{name}': {byteLength} bytes is not a multiple of the {dtype} item size {size}");
        Add(new Entry(name, dtype, shape, null, null, null, byteLength, write), byteLength / size);
    }

    private void Add(Entry e, long count)
    {
        if (e.Name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor");
        long numel = 1;
        foreach (long s in e.Shape)
        {
            if (s < 0) throw new ArgumentException($"tensor '{e.Name}': negative dimension in shape {SafeTensorInfo.FormatShape(e.Shape)}");
            numel *= s;
        }
        if (numel != count)
            throw new ArgumentException($"tensor '{e.Name}': shape {SafeTensorInfo.FormatShape(e.Shape)} has {numel} elements but the data has {count}");
        if (!_names.Add(e.Name)) throw new ArgumentException($"tensor '{e.Name}' was added twice");
        _entries.Add(e);
    }

    /// <summary>
    /// Writes the file (temp file + rename). Throws <see cref="IOException"/> naming the path on failure.
    /// <paramref name="beforeCommit"/>, if given, runs once the data is written and before the rename (a last check);
    /// if it throws, the temporary file is removed and nothing replaces <paramref name="path"/>.
    /// </summary>
    public void Save(string path, Action? beforeCommit = null)
    {
        List<Entry> ordered = keepInsertionOrder
            ? _entries
            : _entries
                .OrderByDescending(e => SafeTensorDTypes.ItemSize(e.DType))
                .ThenBy(e => e.Name, StringComparer.Ordinal)
                .ToList();
        byte[] header = BuildHeader(ordered);
        string full = System.IO.Path.GetFullPath(path);
        string? dir = System.IO.Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            // Reserving the whole file up front (fallocate) halves the time to write a large file on ext4 here, and
            // a full disk fails before anything is written.
            long total = 8 + header.Length + ordered.Sum(e => e.ByteLength);
            using (SafeFileHandle file = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None, preallocationSize: total))
            {
                Span<byte> len = stackalloc byte[8];
                BitConverter.TryWriteBytes(len, (ulong)header.Length);
                RandomAccess.Write(file, len, 0);
                RandomAccess.Write(file, header, 8);
                long offset = 8 + header.Length;
                foreach (Entry e in ordered)
                {
                    if (e.Streamed != null) e.Streamed(file, offset);
                    else if (e.Bytes is { } b) WriteChunked(file, b.Span, offset);
                    else if (e.Floats is { } f) WriteChunked(file, MemoryMarshal.AsBytes(f.Span), offset);
                    else WriteChunked(file, MemoryMarshal.AsBytes(e.Longs!.Value.Span), offset);
                    offset += e.ByteLength;
                }
                if (RandomAccess.GetLength(file) != offset)
                    throw new IOException($"{temp}: wrote {RandomAccess.GetLength(file)} bytes, expected {offset}");
            }
            beforeCommit?.Invoke();
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static void WriteChunked(SafeFileHandle file, ReadOnlySpan<byte> bytes, long offset)
    {
        const int chunk = 1 << 24;
        for (int i = 0; i < bytes.Length; i += chunk) RandomAccess.Write(file, bytes.Slice(i, Math.Min(chunk, bytes.Length - i)), offset + i);
    }

    private byte[] BuildHeader(List<Entry> ordered)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (Entry e in ordered)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.ToString());
                w.WriteStartArray("shape");
                foreach (long s in e.Shape) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += e.ByteLength;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int raw = (int)ms.Length;
        int padded = (raw + 7) / 8 * 8;
        byte[] header = new byte[padded];
        ms.GetBuffer().AsSpan(0, raw).CopyTo(header);
        header.AsSpan(raw).Fill((byte)' ');
        return header;
    }
}
