using StbImageSharp;

namespace TokenFormer.Vision.Data;

/// <summary>
/// Decodes an image file (PNG, JPEG, BMP, GIF, TGA, PSD, HDR via StbImageSharp; docs/vision.md, Images) into the bytes a
/// model takes: C channels (RGB is turned into greyscale by luminance 0.299R + 0.587G + 0.114B, greyscale into RGB by
/// copying; alpha is dropped), resized to S×S (area averaging when shrinking, bilinear when enlarging; a non-square
/// image is stretched), [C, S, S] channel-major. Every failure is a <see cref="VisionFormatException"/> naming the file.
/// </summary>
public static class ImageLoader
{
    /// <summary>File extensions read as images in an image folder.</summary>
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"];

    /// <summary>
    /// Largest image accepted, in pixels (4096 × 4096). Decoding and converting cost about 16 bytes of memory per pixel,
    /// and a compressed image can claim far more pixels than its size suggests (a 26 KB PNG decodes to 3000 × 3000), so
    /// larger images are refused from their header, before anything is decoded.
    /// </summary>
    public const int MaxPixels = 4096 * 4096;

    /// <summary>Reads <paramref name="path"/> as [channels, size, size] bytes.</summary>
    public static byte[] Load(string path, int channels, int size)
    {
        var (rgb, w, h) = Decode(path);
        return Convert(rgb, w, h, channels, size);
    }

    /// <summary>Decodes <paramref name="path"/> into interleaved RGB bytes [h, w, 3].</summary>
    public static (byte[] Rgb, int Width, int Height) Decode(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new VisionFormatException($"{path}: file not found"); }
        catch (DirectoryNotFoundException) { throw new VisionFormatException($"{path}: file not found"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new VisionFormatException($"{path}: cannot be read ({e.Message})"); }
        if (bytes.Length == 0) throw new VisionFormatException($"{path}: empty file, not an image");
        if (PngChunkOverrun(bytes) is string overrun)
            throw new VisionFormatException($"{path}: not a readable image ({overrun}; the PNG file is truncated or corrupt)");
        if (JpegSegmentOverrun(bytes) is string broken)
            throw new VisionFormatException($"{path}: not a readable image ({broken}; the JPEG file is truncated or corrupt)");
        if (DeclaredPixels(bytes) is long declared && declared > MaxPixels)
            throw new VisionFormatException($"{path}: the image header declares {declared:N0} pixels, more than the {MaxPixels:N0} (4096 × 4096) accepted; downscale the image");
        ImageResult img;
        try { img = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue); }
        catch (Exception e) // StbImageSharp reports every decoding failure as a plain Exception with stb's reason
        {
            // stb's reason can be blank or NUL characters (a failure it gave no text for)
            string reason = e.Message.All(c => char.IsWhiteSpace(c) || char.IsControl(c)) ? "the decoder gave no reason" : e.Message.Trim();
            throw new VisionFormatException($"{path}: not a readable image ({reason}; truncated or corrupt file, or a format other than PNG, JPEG, BMP, GIF, TGA)");
        }
        if (img == null || img.Data == null || img.Width <= 0 || img.Height <= 0 || (long)img.Width * img.Height > MaxPixels
            || img.Data.Length < img.Width * img.Height * 3)
            throw new VisionFormatException($"{path}: not a readable image (the decoder returned no pixels)");
        return (img.Data, img.Width, img.Height);
    }

    /// <summary>
    /// For a PNG file, the first chunk whose declared length runs past the end of the file, described; null when every
    /// chunk fits (or the file is not a PNG). The decoder sizes its buffer for the compressed data by the declared
    /// lengths before reading them, so a 69-byte PNG claiming a 250 MB data chunk made it allocate that much (found
    /// by fuzzing, docs/reliability.md).
    /// </summary>
    public static string? PngChunkOverrun(byte[] bytes)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10];
        if (!bytes.AsSpan().StartsWith(signature)) return null;
        long pos = signature.Length;
        while (pos + 8 <= bytes.Length)
        {
            uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan((int)pos));
            string type = System.Text.Encoding.Latin1.GetString(bytes, (int)pos + 4, 4);
            if (pos + 12 + length > bytes.Length)
                return $"chunk '{type}' at byte {pos} declares {length:N0} bytes but the file has {Math.Max(0, bytes.Length - pos - 12):N0} after its header";
            if (type == "IEND") return null;
            pos += 12 + length;
        }
        return null;
    }

    /// <summary>
    /// For a JPEG file (what the decoder takes for one: fill bytes FF, then the start-of-image marker D8), the first
    /// fault in its marker segments up to the first scan, described: a segment whose declared length runs past the end
    /// of the file, a byte where a marker should start, or no scan at all; null when the segments are sound (or the file
    /// is not a JPEG). Files of 7–12 bytes whose first segment claims hundreds of bytes kept the decoder busy for more
    /// than a minute (found by fuzzing, docs/reliability.md); a sound JPEG never fails this.
    /// </summary>
    public static string? JpegSegmentOverrun(byte[] bytes)
    {
        int pos = 0;
        while (pos < bytes.Length && bytes[pos] == 0xFF) pos++;
        if (pos == 0 || pos >= bytes.Length || bytes[pos] != 0xD8) return null;
        pos++;
        while (true)
        {
            if (pos >= bytes.Length) return "the file ends before its first scan";
            if (bytes[pos] != 0xFF) return $"byte {pos} should start a marker (FF) but is {bytes[pos]:X2}";
            int marker = pos;
            while (pos < bytes.Length && bytes[pos] == 0xFF) pos++;
            if (pos >= bytes.Length) return $"the file ends inside the marker at byte {marker}";
            byte code = bytes[pos++];
            if (code == 0xD9) return "the image ends before its first scan";
            if (code == 0x01 || code is >= 0xD0 and <= 0xD8) continue; // markers without a length
            if (pos + 2 > bytes.Length) return $"the file ends inside the length of marker FF{code:X2} at byte {marker}";
            int length = (bytes[pos] << 8) | bytes[pos + 1];
            if (length < 2 || pos + length > bytes.Length)
                return $"segment FF{code:X2} at byte {marker} declares {length:N0} bytes but the file has {bytes.Length - pos:N0} after its marker";
            if (code == 0xDA) return null; // the scan's entropy-coded data follows
            pos += length;
        }
    }

    /// <summary>Width × height as the image's header declares it, or null when the header is not recognised.</summary>
    public static long? DeclaredPixels(byte[] bytes)
    {
        if (JpegSegmentOverrun(bytes) != null) return null; // the header reader hangs on such files as the decoder does
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            // A BMP stores a top-down image with a negative height, and a corrupt header can give any sign; the decoder
            // uses the magnitudes, so the count must too (a negative count slipped past the limit: found by fuzzing).
            return ImageInfo.FromStream(stream) is { } info ? Math.Abs((long)info.Width) * Math.Abs((long)info.Height) : null;
        }
        catch (Exception) // StbImageSharp reports an unreadable header as a plain Exception; decoding then says why
        {
            return null;
        }
    }

    /// <summary>Converts interleaved RGB [h, w, 3] into [channels, size, size].</summary>
    public static byte[] Convert(byte[] rgb, int w, int h, int channels, int size)
    {
        // planes of the requested channels at the source size
        var planes = new float[channels][];
        for (int c = 0; c < channels; c++) planes[c] = new float[w * h];
        for (int i = 0; i < w * h; i++)
        {
            float r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
            if (channels == 1) planes[0][i] = 0.299f * r + 0.587f * g + 0.114f * b;
            else { planes[0][i] = r; planes[1][i] = g; planes[2][i] = b; }
        }
        var output = new byte[channels * size * size];
        for (int c = 0; c < channels; c++)
        {
            float[] resized = Resize(planes[c], w, h, size);
            for (int i = 0; i < resized.Length; i++) output[c * size * size + i] = (byte)Math.Clamp(MathF.Round(resized[i]), 0, 255);
        }
        return output;
    }

    /// <summary>One plane [h, w] resized to [size, size].</summary>
    public static float[] Resize(float[] src, int w, int h, int size)
    {
        var dst = new float[size * size];
        if (w == size && h == size) { Array.Copy(src, dst, dst.Length); return dst; }
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                dst[y * size + x] = Sample(src, w, h, x, y, size);
        return dst;
    }

    private static float Sample(float[] src, int w, int h, int x, int y, int size)
    {
        double sx = (double)w / size, sy = (double)h / size;
        if (sx >= 1 && sy >= 1)
        {
            // area average over the source rectangle [x·sx, (x+1)·sx) × [y·sy, (y+1)·sy), partial pixels weighted
            double x0 = x * sx, x1 = (x + 1) * sx, y0 = y * sy, y1 = (y + 1) * sy, sum = 0, area = 0;
            for (int yy = (int)y0; yy < Math.Min(h, (int)Math.Ceiling(y1)); yy++)
            {
                double wy = Math.Min(yy + 1, y1) - Math.Max(yy, y0);
                for (int xx = (int)x0; xx < Math.Min(w, (int)Math.Ceiling(x1)); xx++)
                {
                    double wx = Math.Min(xx + 1, x1) - Math.Max(xx, x0);
                    sum += wx * wy * src[yy * w + xx];
                    area += wx * wy;
                }
            }
            return (float)(sum / area);
        }
        // bilinear at the pixel centre
        double fx = Math.Clamp((x + 0.5) * sx - 0.5, 0, w - 1), fy = Math.Clamp((y + 0.5) * sy - 0.5, 0, h - 1);
        int ix = (int)fx, iy = (int)fy, ix1 = Math.Min(ix + 1, w - 1), iy1 = Math.Min(iy + 1, h - 1);
        double ax = fx - ix, ay = fy - iy;
        double top = src[iy * w + ix] * (1 - ax) + src[iy * w + ix1] * ax, bottom = src[iy1 * w + ix] * (1 - ax) + src[iy1 * w + ix1] * ax;
        return (float)(top * (1 - ay) + bottom * ay);
    }
}
