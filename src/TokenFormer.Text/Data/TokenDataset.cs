using System.IO.MemoryMappedFiles;

namespace TokenFormer.Text.Data;

/// <summary>
/// One split of a prepared data directory, memory-mapped read-only: <see cref="Count"/> token ids stored as uint16 or
/// uint32. Thread-safe for reads.
/// </summary>
public sealed unsafe class TokenDataset : IDisposable
{
    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly int _itemSize;

    /// <summary>Token ids in the split.</summary>
    public long Count { get; }
    /// <summary>The data directory's meta.json.</summary>
    public DatasetMeta Meta { get; }
    /// <summary>"train" or "val".</summary>
    public string Split { get; }
    /// <summary>Path of the stream file.</summary>
    public string Path { get; }

    private TokenDataset(DatasetMeta meta, string split, string path)
    {
        Meta = meta;
        Split = split;
        Path = path;
        _itemSize = meta.ItemSize;
        Count = meta.Tokens(split);
        if (!File.Exists(path)) throw new DataFormatException($"{path}: file not found");
        long length = new FileInfo(path).Length;
        if (Count < 0)
            throw new DataFormatException($"{System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "", DatasetMeta.FileName)}: field {split}_tokens is negative ({Count})");
        // Compared by division: Count × item size can wrap (2^62 uint32 tokens "need" 0 bytes) and match an empty file.
        if (Count > length / _itemSize || length != Count * _itemSize)
            throw new DataFormatException($"{path}: {length} bytes, but meta.json says {Count} tokens of {meta.DType} ({(decimal)Count * _itemSize} bytes)");
        if (Count == 0) return;
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    /// <summary>Opens split <paramref name="split"/> ("train" or "val") of data directory <paramref name="directory"/>.</summary>
    public static TokenDataset Open(string directory, string split)
    {
        DatasetMeta meta = DatasetMeta.Load(directory);
        _ = meta.Tokens(split);
        return new TokenDataset(meta, split, System.IO.Path.Combine(directory, DatasetMeta.StreamFile(split)));
    }

    /// <summary>Token at <paramref name="index"/>.</summary>
    public int this[long index]
    {
        get
        {
            if ((ulong)index >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"the {Split} split has {Count} tokens");
            return _itemSize == 2 ? ((ushort*)_base)[index] : (int)((uint*)_base)[index];
        }
    }

    /// <summary>Copies tokens [start, start + destination.Length) into <paramref name="destination"/>.</summary>
    public void CopyTo(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"tokens [{start}, {start + destination.Length}) are outside the {Split} split's {Count}");
        if (_itemSize == 2)
        {
            ushort* s = (ushort*)_base + start;
            for (int i = 0; i < destination.Length; i++) destination[i] = s[i];
        }
        else
        {
            uint* s = (uint*)_base + start;
            for (int i = 0; i < destination.Length; i++) destination[i] = (int)s[i];
        }
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _file?.Dispose();
    }
}
