namespace TokenFormer.Vision.Data;

/// <summary>
/// A folder of images with one subfolder per class (the subfolder's name is the class name; classes sorted by name),
/// every image converted by <see cref="ImageLoader"/> to C×S×S. An empty class folder, a folder without class folders
/// or an unreadable image is an error naming the folder or file.
/// </summary>
public static class ImageFolder
{
    /// <summary>The class folders of <paramref name="directory"/>, sorted by name.</summary>
    public static string[] ClassFolders(string directory)
    {
        if (!Directory.Exists(directory)) throw new VisionFormatException($"{directory}: folder not found");
        string[] classes = Directory.GetDirectories(directory).Where(d => !Path.GetFileName(d).StartsWith('.')).OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal).ToArray();
        if (classes.Length < 2)
            throw new VisionFormatException($"{directory}: expected one subfolder per class (at least two), found {classes.Length}");
        return classes;
    }

    /// <summary>Reads every image under the class folders of <paramref name="directory"/>; <paramref name="classNames"/> (null: the folder's own) fixes the label order.</summary>
    public static ImageDataset Load(string directory, int channels, int size, string[]? classNames = null)
    {
        string[] folders = ClassFolders(directory);
        string[] names = folders.Select(Path.GetFileName).ToArray()!;
        if (classNames != null && !names.SequenceEqual(classNames))
            throw new VisionFormatException($"{directory}: class folders [{string.Join(", ", names)}] differ from the expected classes [{string.Join(", ", classNames)}]");
        var pixels = new List<byte>();
        var labels = new List<int>();
        for (int c = 0; c < folders.Length; c++)
        {
            string[] files = Directory.GetFiles(folders[c]).Where(f => ImageLoader.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .OrderBy(f => f, StringComparer.Ordinal).ToArray();
            if (files.Length == 0)
                throw new VisionFormatException($"{folders[c]}: class folder '{names[c]}' holds no images ({string.Join(", ", ImageLoader.Extensions)})");
            foreach (string f in files)
            {
                pixels.AddRange(ImageLoader.Load(f, channels, size));
                labels.Add(c);
            }
        }
        return new ImageDataset(channels, size, [.. pixels], [.. labels], names, directory);
    }
}
