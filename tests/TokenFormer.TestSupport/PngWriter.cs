using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace TokenFormer.TestSupport;

/// <summary>A minimal PNG encoder for test images: 8-bit greyscale, RGB or RGBA, filter 0, one IDAT chunk.</summary>
public static class PngWriter
{
    /// <summary>PNG bytes of <paramref name="pixels"/> [h, w, channels] (channels 1, 3 or 4).</summary>
    public static byte[] Encode(byte[] pixels, int w, int h, int channels)
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

}
