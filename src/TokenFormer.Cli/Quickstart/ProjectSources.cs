namespace TokenFormer.Cli.Quickstart;

/// <summary>
/// The project's own documentation and C# sources as a fallback corpus: the folder holding TokenFormer.sln is looked
/// for above each start folder (the binary's, the current one), and its *.md and *.cs files are read, skipping
/// build outputs, test results and version-control folders.
/// </summary>
public static class ProjectSources
{
    /// <summary>A source file: its path relative to the repository root ('/' separated) and its text.</summary>
    public sealed record Document(string Name, string Text);

    /// <summary>The marker file of the repository root.</summary>
    public const string SolutionFile = "TokenFormer.sln";

    private static readonly HashSet<string> Skipped = new(StringComparer.OrdinalIgnoreCase) { "bin", "obj", ".git", "TestResults", "node_modules", ".vs", "quickstart-run" };

    /// <summary>The repository root above any of <paramref name="startFolders"/>, or null.</summary>
    public static string? FindRoot(IEnumerable<string> startFolders)
    {
        foreach (string start in startFolders)
        {
            for (string? dir = Path.GetFullPath(start); dir != null; dir = Path.GetDirectoryName(dir))
                if (File.Exists(Path.Combine(dir, SolutionFile))) return dir;
        }
        return null;
    }

    /// <summary>The *.md and *.cs files of the repository (sorted by relative path), or null when no root or no files are found.</summary>
    public static IReadOnlyList<Document>? Find(IEnumerable<string> startFolders)
    {
        string? root = FindRoot(startFolders);
        if (root == null) return null;
        var docs = new List<Document>();
        Walk(root, root, docs);
        docs.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return docs.Count > 0 ? docs : null;
    }

    private static void Walk(string root, string dir, List<Document> docs)
    {
        foreach (string file in Directory.EnumerateFiles(dir))
        {
            if (!(file.EndsWith(".md", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".cs", StringComparison.OrdinalIgnoreCase))) continue;
            string text = File.ReadAllText(file);
            if (text.Length > 0) docs.Add(new Document(Path.GetRelativePath(root, file).Replace('\\', '/'), text));
        }
        foreach (string sub in Directory.EnumerateDirectories(dir))
            if (!Skipped.Contains(Path.GetFileName(sub))) Walk(root, sub, docs);
    }
}
