using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using TokenFormer.TestSupport;
using TokenFormer.Vision.Data;

namespace TokenFormer.Vision.Tests;

/// <summary>Test inputs: a minimal PNG encoder (8-bit greyscale, RGB or RGBA, no filtering), IDX files and synthetic datasets.</summary>
internal static class TestImages
{
    /// <inheritdoc cref="PngWriter.Encode"/>
    public static byte[] Png(byte[] pixels, int w, int h, int channels) => PngWriter.Encode(pixels, w, h, channels);

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
