using TokenFormer.TestSupport;
using TokenFormer.Vision.Data;

namespace TokenFormer.Vision.Tests;

/// <summary>IDX files, image decoding and conversion, image folders, augmentation and the errors for bad input.</summary>
public sealed class DataTests
{
    [Fact]
    public void A_vision_config_with_a_lone_surrogate_escape_is_a_config_error_naming_the_field()
    {
        var e = Assert.Throws<TokenFormer.Model.TokenFormerConfigException>(() =>
            VisionConfig.FromJson("{\"model_type\": \"tokenformer-vision\\ud800\", \"image_size\": 16}", "config.json"));
        Assert.Equal("config.json: field 'model_type' holds a \\u escape that is not valid UTF-16 (a lone surrogate such as \\ud800) (at byte 15)", e.Message);
    }

    [Fact]
    public void IdxPairReadsImagesAndLabelsRawAndGzip()
    {
        string dir = TempFolders.Create("vision-idx");
        byte[] pixels = Enumerable.Range(0, 3 * 4 * 4).Select(i => (byte)i).ToArray();
        TestImages.WriteIdx(Path.Combine(dir, "train-images-idx3-ubyte.gz"), [3, 4, 4], pixels);
        TestImages.WriteIdx(Path.Combine(dir, "train-labels-idx1-ubyte"), [3], [2, 0, 9]);
        ImageDataset d = IdxReader.ReadPair(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Path.Combine(dir, "train-labels-idx1-ubyte"), FashionMnist.ClassNames);
        Assert.Equal(3, d.Count);
        Assert.Equal(4, d.Size);
        Assert.Equal(pixels, d.Pixels);
        Assert.Equal([2, 0, 9], d.Labels);
    }

    [Fact]
    public void TruncatedOrForeignIdxFilesAreRefusedNamingTheFile()
    {
        string dir = TempFolders.Create("vision-idx-bad");
        string truncated = Path.Combine(dir, "t10k-images-idx3-ubyte");
        TestImages.WriteIdx(truncated, [5, 4, 4], new byte[40]); // 80 bytes promised
        var e = Assert.Throws<VisionFormatException>(() => IdxReader.Read(truncated));
        Assert.Contains(truncated, e.Message);
        Assert.Contains("80 bytes of data, but the file has 40", e.Message);

        string foreign = Path.Combine(dir, "notes.txt");
        File.WriteAllText(foreign, "hello, not an IDX file");
        e = Assert.Throws<VisionFormatException>(() => IdxReader.Read(foreign));
        Assert.Contains(foreign, e.Message);
        Assert.Contains("magic number", e.Message);

        string images = Path.Combine(dir, "i"), labels = Path.Combine(dir, "l");
        TestImages.WriteIdx(images, [2, 4, 4], new byte[32]);
        TestImages.WriteIdx(labels, [3], [1, 2, 3]);
        e = Assert.Throws<VisionFormatException>(() => IdxReader.ReadPair(images, labels, FashionMnist.ClassNames));
        Assert.Contains(labels, e.Message);
        Assert.Contains("3 labels", e.Message);
    }

    [Fact]
    public void MissingFashionMnistSaysHowToGetIt()
    {
        string dir = TempFolders.Create("vision-no-fmnist");
        var e = Assert.Throws<VisionFormatException>(() => FashionMnist.Load(dir));
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("--data", e.Message);
        TestImages.WriteIdx(Path.Combine(dir, "train-images-idx3-ubyte"), [1, 2, 2], new byte[4]);
        e = Assert.Throws<VisionFormatException>(() => FashionMnist.Load(dir));
        Assert.Contains("train-labels-idx1-ubyte", e.Message);
    }

    [Fact]
    public void PngIsDecodedConvertedToGreyOrRgbAndResized()
    {
        string dir = TempFolders.Create("vision-png");
        // 4×2 RGB: left half pure red, right half pure blue
        var rgb = new byte[2 * 4 * 3];
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 4; x++)
            {
                int at = (y * 4 + x) * 3;
                if (x < 2) rgb[at] = 255; else rgb[at + 2] = 255;
            }
        string path = Path.Combine(dir, "rb.png");
        File.WriteAllBytes(path, TestImages.Png(rgb, 4, 2, 3));
        byte[] grey = ImageLoader.Load(path, 1, 2);           // 2×2: each output pixel averages a 2×1 block of one colour
        Assert.Equal(new byte[] { 76, 29, 76, 29 }, grey);      // 0.299·255 and 0.114·255
        byte[] colour = ImageLoader.Load(path, 3, 2);
        Assert.Equal(new byte[] { 255, 0, 255, 0, /* G */ 0, 0, 0, 0, /* B */ 0, 255, 0, 255 }, colour);
        // greyscale with alpha, enlarged 1×1 → 3×3
        string ga = Path.Combine(dir, "g.png");
        File.WriteAllBytes(ga, TestImages.Png([100, 100, 100, 255], 1, 1, 4));
        Assert.All(ImageLoader.Load(ga, 1, 3), v => Assert.Equal(100, v));
    }

    [Fact]
    public void TruncatedPngAndUnreadableFilesAreErrorsNamingTheFile()
    {
        string dir = TempFolders.Create("vision-png-bad");
        byte[] png = TestImages.Png(Enumerable.Range(0, 16 * 16).Select(i => (byte)(i * 7)).ToArray(), 16, 16, 1);
        string truncated = Path.Combine(dir, "truncated.png");
        File.WriteAllBytes(truncated, png[..(png.Length / 2)]);
        var e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(truncated, 1, 28));
        Assert.Contains(truncated, e.Message);

        string text = Path.Combine(dir, "notes.png");
        File.WriteAllText(text, "this is text, not a picture");
        e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(text, 1, 28));
        Assert.Contains(text, e.Message);

        string empty = Path.Combine(dir, "empty.png");
        File.WriteAllBytes(empty, []);
        e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(empty, 1, 28));
        Assert.Contains(empty, e.Message);

        string missing = Path.Combine(dir, "missing.png");
        e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(missing, 1, 28));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void JpegWhoseSegmentsRunPastTheFileIsRefusedBeforeDecoding()
    {
        // inputs the image fuzz target found (tools/fuzz/corpus/image/found-jpeg-*): each kept the decoder busy for
        // more than a minute before the segment check
        byte[][] hangs =
        [
            [0xFF, 0xFF, 0xD8, 0xFF, 0xFE, 0xF4, 0x00],
            [0xFF, 0xFF, 0xD8, 0xFF, 0xE8, 0x03, 0x00, 0x00, 0xD8, 0xD8, 0xD8, 0xD8],
            [0xFF, 0xD8, 0xFF, 0xE8, 0x03, 0x00, 0x00, 0xD8, 0xD8, 0xD8, 0xD8],
            [0xFF, 0xFF, 0xD8, 0xFF, 0xEE, 0x7F, 0xFF, 0xFA, 0xFF, 0x03, 0x8B, 0x4B, 0x68, 0x00, 0x00, 0x00],
        ];
        string dir = TempFolders.Create("vision-jpeg-bad");
        for (int i = 0; i < hangs.Length; i++)
        {
            string path = Path.Combine(dir, $"{i}.jpg");
            File.WriteAllBytes(path, hangs[i]);
            var e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(path, 1, 28));
            Assert.Contains(path, e.Message);
            Assert.Contains("JPEG", e.Message);
        }
        // sound segments up to the scan pass the check (SOI, APP0 of 16 bytes, a comment, SOS of 8 bytes, data)
        byte[] sound = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, .. new byte[14], 0xFF, 0xFE, 0x00, 0x03, 0x41,
            0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0x12, 0x34, 0xFF, 0xD9];
        Assert.Null(ImageLoader.JpegSegmentOverrun(sound));
        Assert.Contains("declares 16", ImageLoader.JpegSegmentOverrun(sound[..12]));
        Assert.Contains("before its first scan", ImageLoader.JpegSegmentOverrun([0xFF, 0xD8, 0xFF, 0xD9]));
        Assert.Null(ImageLoader.JpegSegmentOverrun(TestImages.Png([1], 1, 1, 1)));
    }

    [Fact]
    public void ImageFolderReadsClassesAndRefusesAnEmptyClass()
    {
        string dir = TempFolders.Create("vision-folder");
        foreach (string c in new[] { "cat", "dog" })
        {
            Directory.CreateDirectory(Path.Combine(dir, c));
            for (int i = 0; i < 2; i++) File.WriteAllBytes(Path.Combine(dir, c, $"{i}.png"), TestImages.Png([(byte)(c == "cat" ? 10 : 250)], 1, 1, 1));
        }
        ImageDataset d = ImageFolder.Load(dir, 1, 4);
        Assert.Equal(["cat", "dog"], d.ClassNames);
        Assert.Equal([0, 0, 1, 1], d.Labels);
        Assert.Equal(250, d.Image(3)[0]);

        Directory.CreateDirectory(Path.Combine(dir, "empty-class"));
        var e = Assert.Throws<VisionFormatException>(() => ImageFolder.Load(dir, 1, 4));
        Assert.Contains(Path.Combine(dir, "empty-class"), e.Message);
        Assert.Contains("holds no images", e.Message);

        File.WriteAllText(Path.Combine(dir, "empty-class", "broken.png"), "not a png");
        e = Assert.Throws<VisionFormatException>(() => ImageFolder.Load(dir, 1, 4));
        Assert.Contains(Path.Combine(dir, "empty-class", "broken.png"), e.Message);
    }

    [Fact]
    public void DataOfAnotherSizeThanTheModelIsRefusedNamingBoth()
    {
        VisionModel model = VisionFiniteDifferenceTests.SmallModel(1);   // 1×8×8, 4 classes
        ImageDataset wrongSize = TestImages.Bars(8, 12, 4, 1);
        var e = Assert.Throws<VisionFormatException>(() => wrongSize.CheckFits(model.Config, "runs/m"));
        Assert.Contains("synthetic bars", e.Message);
        Assert.Contains("runs/m", e.Message);
        Assert.Contains("1×12×12", e.Message);
        Assert.Contains("1×8×8", e.Message);
        ImageDataset wrongClasses = TestImages.Bars(8, 8, 2, 1);
        e = Assert.Throws<VisionFormatException>(() => wrongClasses.CheckFits(model.Config, "runs/m"));
        Assert.Contains("2 classes", e.Message);
    }

    [Fact]
    public void AugmentationShiftsWithBlackBorderAndMirrors()
    {
        var config = VisionConfig.Create(4, 1, 2, 2, 1, 8, 1, 4, 4, 4, [0], [1.0 / 255]);   // normalised value = pixel byte
        var data = new ImageDataset(1, 4, Enumerable.Range(1, 16).Select(i => (byte)i).ToArray(), [0], ["a", "b"], "one image");
        var builder = new BatchBuilder(config);
        var images = new float[16];
        var labels = new int[1];
        builder.Fill(data, [0], images, labels, null, 0, false);
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (float)i).ToArray(), images.Select(v => MathF.Round(v)).ToArray());
        // over many draws every shift in [-1, 1]² and both mirror states appear; each output is a shifted (mirrored) copy
        var seen = new HashSet<string>();
        var rng = new Random(4);
        for (int trial = 0; trial < 200; trial++)
        {
            builder.Fill(data, [0], images, labels, rng, 1, true);
            float[] r = images.Select(v => MathF.Round(v)).ToArray();
            bool found = false;
            for (int dy = -1; dy <= 1 && !found; dy++)
                for (int dx = -1; dx <= 1 && !found; dx++)
                    foreach (bool mirror in new[] { false, true })
                    {
                        bool ok = true;
                        for (int y = 0; y < 4 && ok; y++)
                            for (int x = 0; x < 4 && ok; x++)
                            {
                                int sx = (mirror ? 3 - x : x) + dx, sy = y + dy;
                                float expect = sx is >= 0 and < 4 && sy is >= 0 and < 4 ? sy * 4 + sx + 1 : 0;
                                ok = r[y * 4 + x] == expect;
                            }
                        if (ok) { found = true; seen.Add($"{dx},{dy},{mirror}"); break; }
                    }
            Assert.True(found, $"trial {trial}: the augmented image is no shifted or mirrored copy");
        }
        Assert.Equal(18, seen.Count);
    }

    [Fact]
    public void An_idx_header_whose_size_product_overflows_is_refused()
    {
        // [2^30, 2^30, 16, 1] bytes: the product wrapped to 0 in 64 bits, so a 20-byte header-only file was accepted.
        string path = Path.Combine(TempFolders.Create("vision-idx-overflow"), "x-idx4-ubyte");
        File.WriteAllBytes(path, [0, 0, 8, 4, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 1]);
        var e = Assert.Throws<VisionFormatException>(() => IdxReader.Read(path));
        Assert.Contains("[1073741824, 1073741824, 16, 1] = 18446744073709551616 bytes of data, but the file has 0", e.Message);
    }

    [Fact]
    public void An_image_whose_header_declares_more_than_the_accepted_pixels_is_refused_before_decoding()
    {
        // A PNG header of 6000 × 6000 with one empty data chunk: 57 bytes that would have the decoder allocate for 36 M
        // pixels (a compressed image of that size, all zeros, is under 100 KB).
        string path = Path.Combine(TempFolders.Create("vision-image-bomb"), "big.png");
        File.WriteAllBytes(path, Png(6000, 6000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(path, 3, 16));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("big.png: the image header declares 36,000,000 pixels, more than the 16,777,216 (4096 × 4096) accepted", e.Message);
    }

    [Fact]
    public void A_png_chunk_declaring_more_bytes_than_the_file_holds_is_refused_before_decoding()
    {
        // Found by fuzzing (docs/reliability.md, Fuzzing): the decoder sized its buffer by the declared 251,658,764 bytes
        // of this 69-byte file's data chunk (0.5 GB allocated; larger claims ended the process).
        byte[] png = Convert.FromHexString(
            "89504E470D0A1A0A0000000D49484452000000030000000108000000003E8B4BF80F00020C49444154789C634968F80F" +
            "00020301802461F597DD000000B6454E44AE406069");
        string path = Path.Combine(TempFolders.Create("vision-png-chunk"), "x.png");
        File.WriteAllBytes(path, png);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(path, 3, 16));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("x.png: not a readable image (chunk 'IDAT' at byte 33 declares 251,658,764 bytes but the file has 24 after its header", e.Message);
    }

    [Fact]
    public void A_bmp_whose_header_gives_a_negative_height_is_held_to_the_pixel_limit_by_its_magnitude()
    {
        // Found by fuzzing (docs/reliability.md, Fuzzing): 16 × −14,942,189 gave a negative pixel count that passed the
        // limit, and the decoder, which uses the magnitude, allocated 717 MB for this 70-byte file.
        byte[] bmp = Convert.FromHexString(
            "424D46000000001E00F135000000280000001000000013001CFF01000800000000001E000000ED0B0023330B000000ED0B0023130B200000FFFE1D0600210000FFFE1DFF4000");
        string path = Path.Combine(TempFolders.Create("vision-bmp-negative"), "x.bmp");
        File.WriteAllBytes(path, bmp);
        var e = Assert.Throws<VisionFormatException>(() => ImageLoader.Load(path, 3, 16));
        Assert.Contains("x.bmp: the image header declares 239,075,024 pixels, more than the 16,777,216 (4096 × 4096) accepted", e.Message);
    }

    private static byte[] Png(int width, int height)
    {
        static byte[] Chunk(string type, byte[] data)
        {
            byte[] t = System.Text.Encoding.ASCII.GetBytes(type);
            var c = new byte[12 + data.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(c, data.Length);
            t.CopyTo(c, 4);
            data.CopyTo(c, 8);
            return c; // CRC left 0: the decoder does not check it

        }
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        return [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, .. Chunk("IHDR", ihdr), .. Chunk("IDAT", []), .. Chunk("IEND", [])];
    }
}
