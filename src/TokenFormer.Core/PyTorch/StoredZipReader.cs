using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace TokenFormer.Core.PyTorch;

/// <summary>
/// Reads the central directory of a zip archive whose members are stored uncompressed (what <c>torch.save</c>
/// writes), including the ZIP64 extensions used for archives and members over 4 GiB. It only locates members;
/// their bytes are read in place by the caller at <see cref="ZipEntry.DataOffset"/>. Every size and offset is checked
/// against the file length before use, so a truncated or corrupt archive fails with a message naming the file and
/// member instead of reading out of bounds. Compressed or encrypted members are refused.
/// </summary>
public static class StoredZipReader
{
    private const uint EndOfCentralDirectorySignature = 0x06054b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const uint Zip64EndSignature = 0x06064b50;
    private const uint CentralHeaderSignature = 0x02014b50;
    private const uint LocalHeaderSignature = 0x04034b50;
    private const int EndRecordSize = 22;
    private const int MaxCommentLength = 0xFFFF;

    /// <summary>Most members accepted (a state dict of a 1.5B model has ~400).</summary>
    public const int MaxEntries = 1_000_000;
    /// <summary>Largest central directory accepted.</summary>
    public const long MaxCentralDirectoryBytes = 256L << 20;

    /// <summary>Lists the members of the archive open as <paramref name="file"/> (<paramref name="path"/> names it in errors).</summary>
    public static IReadOnlyList<ZipEntry> ReadEntries(SafeFileHandle file, string path)
    {
        long length = RandomAccess.GetLength(file);
        if (length < EndRecordSize)
            throw new PyTorchFormatException($"{path}: {length} bytes is too short to be a zip archive (torch.save format); the file is truncated or not a PyTorch checkpoint");
        int tailLength = (int)Math.Min(length, EndRecordSize + MaxCommentLength);
        byte[] tail = new byte[tailLength];
        ReadExactly(file, tail, length - tailLength, path, "end of central directory");
        int end = -1;
        for (int i = tailLength - EndRecordSize; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) != EndOfCentralDirectorySignature) continue;
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(i + 20));
            if (i + EndRecordSize + commentLength == tailLength) { end = i; break; }
        }
        if (end < 0)
            throw new PyTorchFormatException($"{path}: no zip end-of-central-directory record; the archive is truncated or the file is not a torch.save checkpoint");
        ReadOnlySpan<byte> eocd = tail.AsSpan(end, EndRecordSize);
        long endOffset = length - tailLength + end;
        long entryCount = BinaryPrimitives.ReadUInt16LittleEndian(eocd[10..]);
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(eocd[12..]);
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(eocd[16..]);
        if (entryCount == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
            (entryCount, cdSize, cdOffset) = ReadZip64End(file, path, endOffset, length);
        if (entryCount > MaxEntries) throw new PyTorchFormatException($"{path}: the zip archive claims {entryCount} members (at most {MaxEntries} accepted)");
        if (cdSize > MaxCentralDirectoryBytes || cdOffset < 0 || cdSize < 0 || cdOffset > length - cdSize)
            throw new PyTorchFormatException($"{path}: the zip central directory (offset {cdOffset}, {cdSize} bytes) lies outside the {length}-byte file; the archive is truncated or corrupt");
        byte[] cd = new byte[cdSize];
        ReadExactly(file, cd, cdOffset, path, "central directory");
        // Each central directory entry takes at least 46 bytes, so the directory's size bounds the count; the claimed
        // count alone (up to a million in a 22-byte file) must not size the list.
        var entries = new List<ZipEntry>((int)Math.Min(entryCount, cdSize / 46));
        var names = new HashSet<string>(StringComparer.Ordinal);
        int pos = 0;
        Span<byte> local = stackalloc byte[30];
        for (long e = 0; e < entryCount; e++)
        {
            if (pos + 46 > cd.Length || BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(pos)) != CentralHeaderSignature)
                throw new PyTorchFormatException($"{path}: zip central directory entry {e} is malformed");
            ReadOnlySpan<byte> h = cd.AsSpan(pos, 46);
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(h[8..]);
            int method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            if (pos + 46 + nameLength + extraLength + commentLength > cd.Length)
                throw new PyTorchFormatException($"{path}: zip central directory entry {e} runs past the directory's end");
            string name = Encoding.UTF8.GetString(cd, pos + 46, nameLength);
            ReadOnlySpan<byte> extra = cd.AsSpan(pos + 46 + nameLength, extraLength);
            ApplyZip64Extra(extra, ref size, ref compressed, ref localOffset, path, name);
            pos += 46 + nameLength + extraLength + commentLength;
            if ((flags & 1) != 0) throw new PyTorchFormatException($"{path}: zip member '{name}' is encrypted");
            if (method != 0)
                throw new PyTorchFormatException($"{path}: zip member '{name}' is compressed (method {method}); torch.save stores members uncompressed — re-save the checkpoint with torch.save instead of re-zipping it");
            if (compressed != size) throw new PyTorchFormatException($"{path}: stored zip member '{name}' has compressed size {compressed} ≠ size {size}");
            if (localOffset < 0 || localOffset > length - 30)
                throw new PyTorchFormatException($"{path}: zip member '{name}' starts at offset {localOffset}, past the end of the {length}-byte file (truncated archive)");
            ReadExactly(file, local, localOffset, path, $"local header of '{name}'");
            if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalHeaderSignature)
                throw new PyTorchFormatException($"{path}: zip member '{name}' has no local header at offset {localOffset}");
            long dataOffset = localOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(local[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(local[28..]);
            if (size < 0 || size > length - dataOffset)
                throw new PyTorchFormatException($"{path}: zip member '{name}' ({size} bytes at offset {dataOffset}) extends past the end of the {length}-byte file; the archive is truncated");
            if (!names.Add(name)) throw new PyTorchFormatException($"{path}: zip member '{name}' appears twice");
            entries.Add(new ZipEntry(name, size, dataOffset));
        }
        return entries;
    }

    private static (long Count, long Size, long Offset) ReadZip64End(SafeFileHandle file, string path, long endOffset, long length)
    {
        if (endOffset < 20) throw new PyTorchFormatException($"{path}: ZIP64 end-of-central-directory locator missing");
        Span<byte> locator = stackalloc byte[20];
        ReadExactly(file, locator, endOffset - 20, path, "ZIP64 locator");
        if (BinaryPrimitives.ReadUInt32LittleEndian(locator) != Zip64LocatorSignature)
            throw new PyTorchFormatException($"{path}: ZIP64 end-of-central-directory locator missing");
        long recordOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(locator[8..]);
        if (recordOffset < 0 || recordOffset > length - 56)
            throw new PyTorchFormatException($"{path}: ZIP64 end-of-central-directory record at {recordOffset} lies outside the file (truncated archive)");
        Span<byte> record = stackalloc byte[56];
        ReadExactly(file, record, recordOffset, path, "ZIP64 end record");
        if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature)
            throw new PyTorchFormatException($"{path}: ZIP64 end-of-central-directory record is malformed");
        long count = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[32..]);
        long size = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[40..]);
        long offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[48..]);
        if (count < 0 || size < 0 || offset < 0)
            throw new PyTorchFormatException($"{path}: ZIP64 end-of-central-directory record holds impossible values");
        return (count, size, offset);
    }

    private static void ApplyZip64Extra(ReadOnlySpan<byte> extra, ref long size, ref long compressed, ref long offset, string path, string name)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int len = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (4 + len > extra.Length) throw new PyTorchFormatException($"{path}: zip member '{name}' has a malformed extra field");
            if (id == 1)
            {
                ReadOnlySpan<byte> z = extra.Slice(4, len);
                int p = 0;
                if (size == 0xFFFFFFFF) size = NextZip64(z, ref p, path, name);
                if (compressed == 0xFFFFFFFF) compressed = NextZip64(z, ref p, path, name);
                if (offset == 0xFFFFFFFF) offset = NextZip64(z, ref p, path, name);
            }
            extra = extra[(4 + len)..];
        }
    }

    private static long NextZip64(ReadOnlySpan<byte> z, ref int p, string path, string name)
    {
        if (p + 8 > z.Length) throw new PyTorchFormatException($"{path}: zip member '{name}' has a short ZIP64 extra field");
        long v = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[p..]);
        p += 8;
        return v;
    }

    /// <summary>The error for an archive that ends before <paramref name="what"/> does (at byte <paramref name="offset"/>).</summary>
    internal static PyTorchFormatException Truncated(string path, string what, long offset) =>
        new($"{path}: unexpected end of file while reading {what} at offset {offset}; the archive is truncated");

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes at <paramref name="offset"/> or throws naming what was read.</summary>
    internal static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset, string path, string what)
    {
        while (buffer.Length > 0)
        {
            int n = RandomAccess.Read(file, buffer, offset);
            if (n <= 0) throw Truncated(path, what, offset);
            buffer = buffer[n..];
            offset += n;
        }
    }
}
