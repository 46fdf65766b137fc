using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using TokenFormer.Vision.Data;

namespace TokenFormer.Vision.Tests;

/// <summary>Test inputs: a minimal PNG encoder (8-bit greyscale, RGB or RGBA, no filtering), IDX files and synthetic datasets.</summary>
internal static class TestImages
{
    /// <summary>PNG bytes of <paramref name="pixels"/> [h, w, channels] (channels 1, 3 or 4).</summary>
    public static byte[] Png(byte[] pixels, int w, int h, int channels)
    {
        byte colorType = channels switch { 1 => 0, 3 => 2, 4 => 6, _ => throw new ArgumentException("channels") };
        using var raw = new MemoryStream();
        for (int y = 0; y < h; y++) { raw.WriteByte(0); raw.Write(pixels, y * w * channels, w * channels); }
        using var z = new MemoryStream();
        using (var zl = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(zl);
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)w);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)h);
        ihdr[8] = 8; ihdr[9] = colorType;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(len, (uint)data.Length);
        s.Write(len);
        byte[] td = [.. Encoding.ASCII.GetBytes(type), .. data];
        s.Write(td);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(td));
        s.Write(crc);
    }

    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return c ^ 0xFFFFFFFF;
    }

    /// <summary>Writes an IDX file of unsigned bytes with the given dimensions (gzip when the name ends in .gz).</summary>
    public static void WriteIdx(string path, int[] dims, byte[] data)
    {
        using var ms = new MemoryStream();
        ms.Write([0, 0, 8, (byte)dims.Length]);
        foreach (int d in dims) { var b = new byte[4]; BinaryPrimitives.WriteInt32BigEndian(b, d); ms.Write(b); }
        ms.Write(data);
        if (!path.EndsWith(".gz")) { File.WriteAllBytes(path, ms.ToArray()); return; }
        using FileStream f = File.Create(path);
        using var gz = new GZipStream(f, CompressionLevel.Fastest);
        ms.WriteTo(gz);
    }

    /// <summary>
    /// A learnable synthetic set of greyscale <paramref name="size"/>² images: class c has a bright horizontal bar at
    /// row band c (of <paramref name="classes"/>) plus noise.
    /// </summary>
    public static ImageDataset Bars(int count, int size, int classes, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[count * size * size];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int c = i % classes;
            labels[i] = c;
            int band = size / classes;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    pixels[i * size * size + y * size + x] = (byte)Math.Clamp((y / band == c ? 200 : 20) + rng.Next(-20, 21), 0, 255);
        }
        return new ImageDataset(1, size, pixels, labels, Enumerable.Range(0, classes).Select(c => "bar" + c).ToArray(), "synthetic bars");
    }
}
