using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using TokenFormer.Core.IO;

namespace TokenFormer.Core.PyTorch;

/// <summary>
/// A PyTorch state dict saved by <c>torch.save</c> (zip format, PyTorch ≥ 1.6): the archive's <c>data.pkl</c> is
/// read with <see cref="RestrictedUnpickler"/> (no code runs), its storages are matched to the archive members
/// <c>{prefix}/data/{key}</c>, and tensor values are read on demand, in place from the file, into a caller's float
/// span (float16 and bfloat16 widened to float32). Opening reads only the directory and the pickle, so a multi-GB
/// checkpoint costs a few KB until its tensors are read.
/// </summary>
public sealed class TorchCheckpoint : IDisposable
{
    /// <summary>Largest <c>data.pkl</c> accepted (a 1.5B-parameter state dict's is ~60 KB).</summary>
    public const long MaxPickleBytes = 64L << 20;

    private readonly SafeFileHandle _file;
    private readonly Dictionary<string, TorchTensor> _byName;

    /// <summary>Path the checkpoint was opened from.</summary>
    public string Path { get; }

    /// <summary>The state dict's tensors in file order.</summary>
    public IReadOnlyList<TorchTensor> Tensors { get; }

    /// <summary>Distinct storages referenced by the tensors.</summary>
    public IReadOnlyList<TorchStorage> Storages { get; }

    private TorchCheckpoint(string path, SafeFileHandle file, List<TorchTensor> tensors, List<TorchStorage> storages)
    {
        Path = path;
        _file = file;
        Tensors = tensors;
        Storages = storages;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates a checkpoint; throws <see cref="PyTorchFormatException"/> naming the file on any problem.</summary>
    public static TorchCheckpoint Open(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the PyTorch reader needs a little-endian machine");
        if (!File.Exists(path)) throw new PyTorchFormatException($"{path}: file not found");
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            var (tensors, storages) = ReadIndex(file, path);
            return new TorchCheckpoint(path, file, tensors, storages);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The tensor named <paramref name="name"/>, or null.</summary>
    public TorchTensor? Find(string name) => _byName.GetValueOrDefault(name);

    private static (List<TorchTensor>, List<TorchStorage>) ReadIndex(SafeFileHandle file, string path)
    {
        Span<byte> head = stackalloc byte[4];
        long length = RandomAccess.GetLength(file);
        if (length >= 4)
        {
            StoredZipReader.ReadExactly(file, head, 0, path, "file header");
            if (head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a && head[3] == 0x0a)
                throw new PyTorchFormatException($"{path}: this is the legacy (PyTorch < 1.6) torch.save format, which is not supported; load it in Python and save it again with torch.save (zip format)");
        }
        IReadOnlyList<ZipEntry> entries = StoredZipReader.ReadEntries(file, path);
        var byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        List<ZipEntry> pickles = entries.Where(e => e.Name.EndsWith("data.pkl", StringComparison.Ordinal)
            && e.Name.IndexOf('/') == e.Name.Length - "data.pkl".Length - 1).ToList();
        if (pickles.Count != 1)
            throw new PyTorchFormatException(pickles.Count == 0
                ? $"{path}: the zip archive has no '<name>/data.pkl' member; it is not a torch.save checkpoint"
                : $"{path}: the zip archive has {pickles.Count} 'data.pkl' members ({string.Join(", ", pickles.Select(p => p.Name))})");
        ZipEntry pkl = pickles[0];
        string prefix = pkl.Name[..^"data.pkl".Length];
        if (byName.TryGetValue(prefix + "byteorder", out ZipEntry? order))
        {
            byte[] text = ReadMember(file, path, order, 16);
            if (Encoding.ASCII.GetString(text).Trim() != "little")
                throw new PyTorchFormatException($"{path}: storages were saved {Encoding.ASCII.GetString(text).Trim()}-endian; only little-endian checkpoints are supported");
        }
        if (pkl.Size > MaxPickleBytes)
            throw new PyTorchFormatException($"{path}: '{pkl.Name}' is {pkl.Size} bytes (at most {MaxPickleBytes} accepted for a state dict's pickle)");
        byte[] pickle = ReadMember(file, path, pkl, MaxPickleBytes);

        var storages = new Dictionary<string, TorchStorage>(StringComparer.Ordinal);
        TorchStorage Load(PickleTuple pid, long position)
        {
            string at = $"{path}:{pkl.Name} at byte {position}";
            if (pid.Count != 5 || pid.Items[0] is not "storage")
                throw new PyTorchFormatException($"{at}: persistent id is not ('storage', type, key, location, numel)");
            if (pid.Items[1] is not PickleGlobal type || type.Module != "torch" || TorchDTypes.FromStorageName(type.Name) is not TorchDType dtype)
                throw new PyTorchFormatException($"{at}: storage type {pid.Items[1]} is not torch.FloatStorage, torch.HalfStorage or torch.BFloat16Storage");
            if (pid.Items[2] is not string key || pid.Items[3] is not string || pid.Items[4] is not long numel)
                throw new PyTorchFormatException($"{at}: persistent id fields must be (str key, str location, int numel)");
            string member = prefix + "data/" + key;
            if (!byName.TryGetValue(member, out ZipEntry? entry))
                throw new PyTorchFormatException($"{at}: storage '{key}' has no archive member '{member}' (truncated or incomplete archive)");
            int item = TorchDTypes.ItemSize(dtype);
            if (numel < 0 || numel > entry.Size / item || numel * item != entry.Size)
                throw new PyTorchFormatException($"{at}: storage '{key}' claims {numel} {dtype} elements ({(numel < 0 ? "negative" : $"{(decimal)numel * item} bytes")}) but member '{member}' holds {entry.Size} bytes; refusing it");
            if (storages.TryGetValue(key, out TorchStorage? seen))
            {
                if (seen.DType != dtype || seen.ElementCount != numel)
                    throw new PyTorchFormatException($"{at}: storage '{key}' is referenced with two different types or sizes");
                return seen;
            }
            var s = new TorchStorage(key, dtype, numel, entry);
            storages.Add(key, s);
            return s;
        }

        object? root = new RestrictedUnpickler(pickle, $"{path}:{pkl.Name}", Load).Load();
        if (root is not PickleDict dict)
            throw new PyTorchFormatException($"{path}: the checkpoint holds {(root == null ? "None" : root.GetType().Name)}, not a state dict (an OrderedDict of tensors)");
        var tensors = new List<TorchTensor>(dict.Items.Count);
        foreach (var (k, v) in dict.Items)
        {
            if (k is not string name) throw new PyTorchFormatException($"{path}: state dict key {k} is not a string");
            if (v is not TorchTensor t)
                throw new PyTorchFormatException($"{path}: state dict entry '{name}' is {(v is PickleDict ? "a nested dict" : v?.GetType().Name ?? "None")}, not a tensor; only flat state dicts (name → tensor) are supported");
            tensors.Add(t with { Name = name });
        }
        return (tensors, storages.Values.ToList());
    }

    private static byte[] ReadMember(SafeFileHandle file, string path, ZipEntry entry, long limit)
    {
        if (entry.Size > limit) throw new PyTorchFormatException($"{path}: member '{entry.Name}' is larger than {limit} bytes");
        byte[] data = new byte[entry.Size];
        StoredZipReader.ReadExactly(file, data, entry.DataOffset, path, $"member '{entry.Name}'");
        return data;
    }

    /// <summary>
    /// Reads tensor <paramref name="tensor"/> (row-major order, widened to float32) into <paramref name="destination"/>,
    /// whose length must equal the element count. A contiguous float32 view is read straight from the file into the
    /// destination (no intermediate buffer); float16/bfloat16 go through a 1 MiB buffer; strided views read the
    /// covering range of their storage once and gather.
    /// </summary>
    public void ReadFloat32(TorchTensor tensor, Span<float> destination)
    {
        if (destination.Length != tensor.ElementCount)
            throw new ArgumentException($"tensor '{tensor.Name}' has {tensor.ElementCount} elements but the destination holds {destination.Length}");
        if (destination.Length == 0) return;
        if (tensor.IsContiguous)
        {
            ReadRun(tensor, tensor.StorageOffset, destination);
            return;
        }
        long first = tensor.StorageOffset, last = tensor.StorageOffset;
        for (int k = 0; k < tensor.Shape.Length; k++) last += (tensor.Shape[k] - 1) * tensor.Strides[k];
        long span = last - first + 1;
        if (span > Array.MaxLength) throw new PyTorchFormatException($"{Path}: strided tensor '{tensor.Name}' spans {span} storage elements, too many to gather");
        float[] covering = new float[span];
        ReadRun(tensor, first, covering);
        Gather(covering, tensor.Shape, tensor.Strides, destination);
    }

    /// <summary>
    /// Writes tensor <paramref name="tensor"/> (row-major, widened to float32, little-endian) into
    /// <paramref name="destination"/> at <paramref name="offset"/>: <see cref="TorchTensor.ElementCount"/>·4 bytes. A
    /// contiguous float32 tensor is copied file to file (<see cref="FileRangeCopy"/>: in the kernel on Linux) without
    /// passing through memory here; float16/bfloat16 are widened 256 Ki elements at a time; a strided view is gathered
    /// whole first. Throws <see cref="PyTorchFormatException"/> naming the tensor when the archive ends early.
    /// </summary>
    public void WriteFloat32(TorchTensor tensor, SafeFileHandle destination, long offset)
    {
        long count = tensor.ElementCount;
        if (count == 0) return;
        TorchStorage s = tensor.Storage;
        if (tensor.IsContiguous && s.DType == TorchDType.Float32)
        {
            long from = s.Entry.DataOffset + tensor.StorageOffset * 4, bytes = count * 4;
            long copied = FileRangeCopy.Copy(_file, from, destination, offset, bytes);
            if (copied != bytes)
                throw StoredZipReader.Truncated(Path, $"tensor '{tensor.Name}' (storage '{s.Key}')", from + copied);
            return;
        }
        if (!tensor.IsContiguous)
        {
            if (count > Array.MaxLength) throw new PyTorchFormatException($"{Path}: strided tensor '{tensor.Name}' has {count} elements, too many to gather");
            float[] whole = ArrayPool<float>.Shared.Rent((int)count);
            try
            {
                ReadFloat32(tensor, whole.AsSpan(0, (int)count));
                RandomAccess.Write(destination, MemoryMarshal.AsBytes(whole.AsSpan(0, (int)count)), offset);
            }
            finally { ArrayPool<float>.Shared.Return(whole); }
            return;
        }
        const int chunk = 1 << 18;
        float[] buffer = ArrayPool<float>.Shared.Rent((int)Math.Min(chunk, count));
        try
        {
            for (long done = 0; done < count; done += chunk)
            {
                int n = (int)Math.Min(chunk, count - done);
                ReadRun(tensor, tensor.StorageOffset + done, buffer.AsSpan(0, n));
                RandomAccess.Write(destination, MemoryMarshal.AsBytes(buffer.AsSpan(0, n)), offset + done * 4);
            }
        }
        finally { ArrayPool<float>.Shared.Return(buffer); }
    }

    /// <summary>Where tensor <paramref name="tensor"/>'s first element lies in the archive file (to read tensors in file order).</summary>
    public long FilePosition(TorchTensor tensor) =>
        tensor.Storage.Entry.DataOffset + tensor.StorageOffset * TorchDTypes.ItemSize(tensor.DType);

    private static void Gather(ReadOnlySpan<float> source, long[] shape, long[] strides, Span<float> destination)
    {
        int rank = shape.Length;
        Span<long> index = stackalloc long[Math.Max(rank, 1)];
        index.Clear();
        long src = 0;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = source[(int)src];
            for (int k = rank - 1; k >= 0; k--)
            {
                index[k]++;
                src += strides[k];
                if (index[k] < shape[k]) break;
                src -= index[k] * strides[k];
                index[k] = 0;
            }
        }
    }

    /// <summary>Reads storage elements [start, start + destination.Length) of the tensor's storage, widened to float32.</summary>
    private void ReadRun(TorchTensor tensor, long start, Span<float> destination)
    {
        TorchStorage s = tensor.Storage;
        int item = TorchDTypes.ItemSize(s.DType);
        long offset = s.Entry.DataOffset + start * item;
        string what = $"tensor '{tensor.Name}' (storage '{s.Key}')";
        if (s.DType == TorchDType.Float32)
        {
            StoredZipReader.ReadExactly(_file, MemoryMarshal.AsBytes(destination), offset, Path, what);
            return;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int per = buffer.Length / 2;
            for (int done = 0; done < destination.Length; done += per)
            {
                int n = Math.Min(per, destination.Length - done);
                Span<byte> raw = buffer.AsSpan(0, n * 2);
                StoredZipReader.ReadExactly(_file, raw, offset + (long)done * 2, Path, what);
                Span<float> dst = destination.Slice(done, n);
                if (s.DType == TorchDType.Float16)
                    System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(raw), dst);
                else
                    for (int i = 0; i < n; i++)
                        dst[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]) << 16);
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();
}
