namespace TokenFormer.Vision.Data;

/// <summary>
/// Turns dataset images into the network's input: floats (pixel/255 − mean_c)/std_c [B, C, S, S], optionally
/// augmented (docs/vision.md, Training): a random crop of the image padded by <c>padding</c> black pixels on every
/// side (a shift of up to ±padding pixels in each direction, uncovered pixels black) and, with <c>flip</c>, a
/// horizontal mirror with probability ½. The random choices come from the <see cref="Random"/> passed in, so a
/// trainer that seeds it from (seed, step) gets the same batch again on resume.
/// </summary>
public sealed class BatchBuilder
{
    private readonly float[][] _table;
    private readonly int _channels, _size;

    /// <summary>For images of <paramref name="config"/>'s channels and size, normalised with its pixel mean and std.</summary>
    public BatchBuilder(VisionConfig config)
    {
        _channels = config.Channels; _size = config.ImageSize;
        _table = new float[_channels][];
        for (int c = 0; c < _channels; c++)
        {
            _table[c] = new float[256];
            for (int v = 0; v < 256; v++) _table[c][v] = (float)((v / 255.0 - config.PixelMean[c]) / config.PixelStd[c]);
        }
    }

    /// <summary>Normalises one image's bytes [C, S, S] into <paramref name="output"/> (no augmentation).</summary>
    public void Normalize(ReadOnlySpan<byte> image, Span<float> output)
    {
        int plane = _size * _size;
        for (int c = 0; c < _channels; c++)
        {
            float[] t = _table[c];
            ReadOnlySpan<byte> src = image.Slice(c * plane, plane);
            Span<float> dst = output.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++) dst[i] = t[src[i]];
        }
    }

    /// <summary>
    /// Fills <paramref name="images"/> [B, C, S, S] and <paramref name="labels"/> [B] from the dataset rows
    /// <paramref name="indices"/>; with <paramref name="augment"/> non-null each image is randomly cropped (shift of up
    /// to ±<paramref name="padding"/>) and, when <paramref name="flip"/>, mirrored with probability ½.
    /// </summary>
    public void Fill(ImageDataset data, ReadOnlySpan<int> indices, float[] images, int[] labels, Random? augment, int padding, bool flip)
    {
        int s = _size, plane = s * s, per = _channels * plane;
        for (int b = 0; b < indices.Length; b++)
        {
            ReadOnlySpan<byte> img = data.Image(indices[b]);
            labels[b] = data.Labels[indices[b]];
            Span<float> dst = images.AsSpan(b * per, per);
            if (augment == null) { Normalize(img, dst); continue; }
            int dx = padding > 0 ? augment.Next(-padding, padding + 1) : 0;
            int dy = padding > 0 ? augment.Next(-padding, padding + 1) : 0;
            bool mirror = flip && augment.Next(2) == 1;
            for (int c = 0; c < _channels; c++)
            {
                float[] t = _table[c];
                float black = t[0];
                for (int y = 0; y < s; y++)
                {
                    int sy = y + dy;
                    Span<float> row = dst.Slice(c * plane + y * s, s);
                    if (sy < 0 || sy >= s) { row.Fill(black); continue; }
                    ReadOnlySpan<byte> src = img.Slice(c * plane + sy * s, s);
                    for (int x = 0; x < s; x++)
                    {
                        int sx = (mirror ? s - 1 - x : x) + dx;
                        row[x] = sx >= 0 && sx < s ? t[src[sx]] : black;
                    }
                }
            }
        }
    }
}
