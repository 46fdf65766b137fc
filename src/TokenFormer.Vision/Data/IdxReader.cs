using System.Buffers.Binary;
using System.IO.Compression;

namespace TokenFormer.Vision.Data;

/// <summary>
/// Reads the MNIST-family IDX files (MNIST, Fashion-MNIST, KMNIST…), raw or gzip-compressed (.gz): a big-endian
/// header — two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions — then one big-endian
/// 32-bit size per dimension and the data. Images are type 0x08 with 3 dimensions [N, rows, columns], labels type 0x08
/// with 1 dimension [N]. Every error names the file and what was expected.
/// </summary>
public static class IdxReader
{
    /// <summary>Reads an IDX file's dimensions and its unsigned-byte data.</summary>
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        if (!File.Exists(path)) throw new VisionFormatException($"{path}: file not found");
        byte[] bytes;
        try
        {
            using FileStream file = File.OpenRead(path);
            using var buffer = new MemoryStream();
            if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                using var gz = new GZipStream(file, CompressionMode.Decompress);
                gz.CopyTo(buffer);
            }
            else file.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        catch (InvalidDataException e) { throw new VisionFormatException($"{path}: not a valid gzip file ({e.Message})"); }
        catch (IOException e) { throw new VisionFormatException($"{path}: cannot be read ({e.Message})"); }
        catch (UnauthorizedAccessException e) { throw new VisionFormatException($"{path}: cannot be read ({e.Message})"); }
        if (bytes.Length < 4) throw new VisionFormatException($"{path}: {bytes.Length} bytes, too short for an IDX header (4 bytes of magic number)");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new VisionFormatException($"{path}: not an IDX file (the magic number must start with two zero bytes, got 0x{bytes[0]:x2}{bytes[1]:x2})");
        if (bytes[2] != 0x08)
            throw new VisionFormatException($"{path}: IDX element type 0x{bytes[2]:x2}, expected 0x08 (unsigned byte)");
        int rank = bytes[3];
        if (rank < 1 || rank > 4) throw new VisionFormatException($"{path}: {rank} dimensions in the IDX header, expected 1 to 4");
        if (bytes.Length < 4 + 4 * rank) throw new VisionFormatException($"{path}: truncated IDX header ({bytes.Length} bytes, {4 + 4 * rank} needed for {rank} dimensions)");
        var dims = new int[rank];
        // Up to four sizes below 2^31: the product needs up to 124 bits, so it is formed in 128 (in 64 it could wrap to
        // the data's length, e.g. [2^30, 2^30, 16, 1] wraps to 0, and a header-only file would pass).
        Int128 count = 1;
        for (int i = 0; i < rank; i++)
        {
            uint v = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (v > int.MaxValue) throw new VisionFormatException($"{path}: dimension {i} has size {v}, too large");
            dims[i] = (int)v;
            count *= v;
        }
        long header = 4 + 4 * rank;
        if (bytes.Length - header != count)
            throw new VisionFormatException($"{path}: the header says [{string.Join(", ", dims)}] = {count} bytes of data, but the file has {bytes.Length - header} (truncated or not an IDX file)");
        return (dims, bytes.AsSpan((int)header).ToArray());
    }

    /// <summary>Reads an image file [N, S, S] and its label file [N] into a greyscale dataset.</summary>
    public static ImageDataset ReadPair(string imagesPath, string labelsPath, string[] classNames)
    {
        var (imgDims, pixels) = Read(imagesPath);
        if (imgDims.Length != 3) throw new VisionFormatException($"{imagesPath}: {imgDims.Length} dimensions, expected 3 (images, rows, columns)");
        if (imgDims[1] != imgDims[2]) throw new VisionFormatException($"{imagesPath}: images are {imgDims[1]}×{imgDims[2]}, expected square images");
        var (labDims, labelBytes) = Read(labelsPath);
        if (labDims.Length != 1) throw new VisionFormatException($"{labelsPath}: {labDims.Length} dimensions, expected 1 (labels)");
        if (labDims[0] != imgDims[0])
            throw new VisionFormatException($"{labelsPath}: {labDims[0]} labels, but {imagesPath} has {imgDims[0]} images");
        int[] labels = new int[labelBytes.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = labelBytes[i];
            if (labels[i] >= classNames.Length)
                throw new VisionFormatException($"{labelsPath}: label {labels[i]} at index {i}, expected 0 … {classNames.Length - 1}");
        }
        return new ImageDataset(1, imgDims[1], pixels, labels, classNames, imagesPath);
    }
}
