using System.Buffers.Binary;

namespace TokenFormer.Text.Data;

/// <summary>
/// Appends token ids to a flat little-endian stream of uint16 (<paramref name="itemSize"/> 2) or uint32 (4) values,
/// written to <c>path.tmp-PID</c> and renamed onto <paramref name="path"/> by <see cref="Commit"/>.
/// </summary>
public sealed class TokenStreamWriter(string path, int itemSize) : IDisposable
{
    private readonly string _temp = path + ".tmp-" + Environment.ProcessId;
    private FileStream? _stream;
    private readonly byte[] _buffer = new byte[1 << 20];
    private int _used;

    /// <summary>Bytes per token: 2 (uint16) or 4 (uint32).</summary>
    public int ItemSize => itemSize;

    /// <summary>Tokens written.</summary>
    public long Count { get; private set; }

    // read-write, so that MoveTailTo can read back the stream's tail before it is committed
    private FileStream Stream => _stream ??= new FileStream(_temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1);

    /// <summary>Appends ids; each must fit the item size.</summary>
    public void Write(ReadOnlySpan<int> ids)
    {
        if (itemSize != 2 && itemSize != 4) throw new InvalidOperationException($"item size {itemSize} must be 2 or 4");
        foreach (int id in ids)
        {
            if (_used + 4 > _buffer.Length) Flush();
            if (itemSize == 2)
            {
                if ((uint)id > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(ids), id, "token id does not fit uint16");
                BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_used), (ushort)id);
            }
            else
            {
                if (id < 0) throw new ArgumentOutOfRangeException(nameof(ids), id, "token id must be non-negative");
                BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_used), (uint)id);
            }
            _used += itemSize;
        }
        Count += ids.Length;
    }

    /// <summary>
    /// Moves the last <paramref name="count"/> tokens of this uncommitted stream, in order, to the end of
    /// <paramref name="destination"/> (same item size), in chunks: memory stays at the buffer size whatever the count.
    /// </summary>
    public void MoveTailTo(TokenStreamWriter destination, long count)
    {
        if (destination.ItemSize != itemSize) throw new ArgumentException($"item sizes differ ({itemSize} and {destination.ItemSize})", nameof(destination));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        Flush();
        destination.Flush();
        long start = (Count - count) * itemSize, end = Count * itemSize;
        for (long at = start; at < end;)
        {
            int n = (int)Math.Min(_buffer.Length, end - at);
            Stream.Position = at;
            Stream.ReadExactly(_buffer, 0, n);
            destination.Stream.Write(_buffer, 0, n);
            at += n;
        }
        Stream.SetLength(start);
        Stream.Position = start;
        Count -= count;
        destination.Count += count;
    }

    private void Flush()
    {
        Stream.Write(_buffer, 0, _used);
        _used = 0;
    }

    /// <summary>Flushes to disk and renames the temporary file onto the target.</summary>
    public void Commit()
    {
        Flush();
        Stream.Flush(flushToDisk: true);
        _stream!.Dispose();
        _stream = null;
        File.Move(_temp, path, overwrite: true);
    }

    /// <summary>Closes and removes an uncommitted temporary file.</summary>
    public void Dispose()
    {
        if (_stream == null) return;
        _stream.Dispose();
        _stream = null;
        try { File.Delete(_temp); } catch (IOException) { }
    }
}
