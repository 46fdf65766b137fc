namespace TokenFormer.Vision.Data;

/// <summary>
/// Fashion-MNIST (60,000 training and 10,000 test greyscale 28×28 images of 10 kinds of clothing) from its four IDX
/// files: Debian's <c>dataset-fashion-mnist</c> package installs them in <see cref="DebianDirectory"/>; any folder with
/// the four files (raw or .gz) works too.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The ten class names, by label.</summary>
    public static readonly string[] ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Per-pixel mean and standard deviation of pixel/255 over the training set.</summary>
    public const double Mean = 0.2860, Std = 0.3530;

    /// <summary>The four file stems: training images and labels, test images and labels.</summary>
    public static readonly string[] Stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>How to get the files, for the error when they are missing.</summary>
    public static string HowToGet(string directory) =>
        $"Fashion-MNIST not found in {directory} (expected {string.Join(", ", Stems.Select(s => s + "[.gz]"))}). " +
        "Install Debian's package with 'sudo apt-get install dataset-fashion-mnist' (it puts the files in " + DebianDirectory + "), " +
        "or download the four .gz files of the Fashion-MNIST project (github.com/zalandoresearch/fashion-mnist, folder data/fashion) into a folder and pass --data FOLDER";

    /// <summary>Whether <paramref name="directory"/> holds the four files (raw or .gz).</summary>
    public static bool IsPresent(string directory) => Stems.All(s => Find(directory, s) != null);

    /// <summary>The path of <paramref name="stem"/> in <paramref name="directory"/> (raw or .gz), or null.</summary>
    public static string? Find(string directory, string stem)
    {
        foreach (string name in new[] { stem, stem + ".gz" })
        {
            string p = Path.Combine(directory, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>Reads the training and test sets from <paramref name="directory"/>; errors name the missing or bad file.</summary>
    public static (ImageDataset Train, ImageDataset Test) Load(string directory)
    {
        if (!Directory.Exists(directory) || !IsPresent(directory))
        {
            string? missing = Directory.Exists(directory) ? Stems.First(s => Find(directory, s) == null) : null;
            throw new VisionFormatException(missing != null && Stems.Any(s => Find(directory, s) != null)
                ? $"{Path.Combine(directory, missing)}[.gz]: file not found (the folder has some but not all of the four IDX files). " + HowToGet(directory)
                : HowToGet(directory));
        }
        ImageDataset train = IdxReader.ReadPair(Find(directory, Stems[0])!, Find(directory, Stems[1])!, ClassNames);
        ImageDataset test = IdxReader.ReadPair(Find(directory, Stems[2])!, Find(directory, Stems[3])!, ClassNames);
        return (train, test);
    }
}
