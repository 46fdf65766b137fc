namespace TokenFormer.Vision.Data;

/// <summary>
/// Labelled square images held as bytes: <see cref="Pixels"/> [N, C, S, S] (0 … 255, channel-major like PyTorch),
/// <see cref="Labels"/> [N] in [0, classes), <see cref="Source"/> naming where they came from (for errors).
/// </summary>
public sealed class ImageDataset
{
    /// <summary>Images N.</summary>
    public int Count { get; }
    /// <summary>Channels C.</summary>
    public int Channels { get; }
    /// <summary>Side S.</summary>
    public int Size { get; }
    /// <summary>Pixels [N, C, S, S].</summary>
    public byte[] Pixels { get; }
    /// <summary>Labels [N].</summary>
    public int[] Labels { get; }
    /// <summary>Class names (index = label).</summary>
    public string[] ClassNames { get; }
    /// <summary>The file(s) or folder the images were read from.</summary>
    public string Source { get; }

    /// <summary>Bytes of one image C·S².</summary>
    public int ImageBytes => Channels * Size * Size;

    /// <summary>Wraps the arrays; checks their sizes and the label range.</summary>
    public ImageDataset(int channels, int size, byte[] pixels, int[] labels, string[] classNames, string source)
    {
        if ((long)labels.Length * channels * size * size != pixels.LongLength)
            throw new VisionFormatException($"{source}: {pixels.LongLength} pixel bytes do not make {labels.Length} images of {channels}×{size}×{size}");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] < 0 || labels[i] >= classNames.Length)
                throw new VisionFormatException($"{source}: label {labels[i]} of image {i} is outside [0, {classNames.Length})");
        Count = labels.Length; Channels = channels; Size = size; Pixels = pixels; Labels = labels; ClassNames = classNames; Source = source;
    }

    /// <summary>The bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageBytes, ImageBytes);

    /// <summary>
    /// Checks that images of this set fit <paramref name="config"/> (channels, size, classes); the error names
    /// <see cref="Source"/>, the model and both sizes.
    /// </summary>
    public void CheckFits(VisionConfig config, string model)
    {
        if (Channels != config.Channels || Size != config.ImageSize)
            throw new VisionFormatException($"{Source}: images are {Channels}×{Size}×{Size} (channels×height×width), but the model {model} takes {config.Channels}×{config.ImageSize}×{config.ImageSize}");
        if (ClassNames.Length != config.NumClasses)
            throw new VisionFormatException($"{Source}: {ClassNames.Length} classes, but the model {model} has {config.NumClasses}");
    }
}
