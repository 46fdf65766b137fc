namespace TokenFormer.TestSupport;

/// <summary>Finds committed files (tests/fixtures/…) and optional neighbours of the checkout by walking up from the test binaries.</summary>
public static class RepositoryPaths
{
    /// <summary>The first existing file or folder <paramref name="relative"/> in the test assembly's folder or above it, or null.</summary>
    public static string? FindUp(string relative)
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>As <see cref="FindUp"/>, but a missing path is an error that names it.</summary>
    public static string Require(string relative) =>
        FindUp(relative) ?? throw new DirectoryNotFoundException(relative + " not found in or above " + AppContext.BaseDirectory);
}
