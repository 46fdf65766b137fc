namespace TokenFormer.Vision.Data;

/// <summary>
/// The training and test sets named by <c>--data</c>: <c>fashion-mnist</c> (Debian's package folder), a folder with the
/// four Fashion-MNIST IDX files, or an image folder — FOLDER/train/CLASS/* and FOLDER/test/CLASS/*, or FOLDER/CLASS/*
/// of which every tenth image of each class (in name order) is held out as the test set.
/// </summary>
public static class VisionData
{
    /// <summary>Loads the sets; image folders are converted to <paramref name="channels"/>×<paramref name="size"/>².</summary>
    public static (ImageDataset Train, ImageDataset Test, string Kind) Load(string data, int channels, int size)
    {
        if (data == "fashion-mnist") { var (tr, te) = FashionMnist.Load(FashionMnist.DebianDirectory); return (tr, te, "fashion-mnist"); }
        if (!Directory.Exists(data)) throw new VisionFormatException($"{data}: folder not found (--data takes fashion-mnist or a folder)");
        if (FashionMnist.Stems.Any(s => FashionMnist.Find(data, s) != null)) { var (tr, te) = FashionMnist.Load(data); return (tr, te, "idx"); }
        string train = Path.Combine(data, "train"), test = Path.Combine(data, "test");
        if (Directory.Exists(train))
        {
            ImageDataset t = ImageFolder.Load(train, channels, size);
            if (!Directory.Exists(test)) throw new VisionFormatException($"{test}: folder not found ({data} has train/ but no test/)");
            return (t, ImageFolder.Load(test, channels, size, t.ClassNames), "folder");
        }
        ImageDataset all = ImageFolder.Load(data, channels, size);
        var trainIdx = new List<int>();
        var testIdx = new List<int>();
        var seen = new int[all.ClassNames.Length];
        for (int i = 0; i < all.Count; i++) (seen[all.Labels[i]]++ % 10 == 9 ? testIdx : trainIdx).Add(i);
        return (Subset(all, trainIdx, data + " (training part)"), Subset(all, testIdx, data + " (every tenth image)"), "folder");
    }

    /// <summary>The images <paramref name="rows"/> of <paramref name="d"/>.</summary>
    public static ImageDataset Subset(ImageDataset d, IReadOnlyList<int> rows, string source)
    {
        var pixels = new byte[rows.Count * d.ImageBytes];
        var labels = new int[rows.Count];
        for (int i = 0; i < rows.Count; i++) { d.Image(rows[i]).CopyTo(pixels.AsSpan(i * d.ImageBytes)); labels[i] = d.Labels[rows[i]]; }
        return new ImageDataset(d.Channels, d.Size, pixels, labels, d.ClassNames, source);
    }
}
