namespace TokenFormer.Model.Tests;

/// <summary>Locates the committed fixtures (tests/fixtures) from the test's working directory.</summary>
internal static class Fixtures
{
    public static string Root
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null)
            {
                string candidate = Path.Combine(dir, "tests", "fixtures");
                if (Directory.Exists(candidate)) return candidate;
                dir = Path.GetDirectoryName(dir);
            }
            throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
        }
    }

    public static string ModelRoot => Path.Combine(Root, "model");

    public static IEnumerable<object[]> ModelNames() =>
        Directory.GetDirectories(Path.Combine(Root, "model"))
            .Where(d => File.Exists(Path.Combine(d, "golden.safetensors")))
            .Select(d => new object[] { Path.GetFileName(d) })
            .OrderBy(x => (string)x[0]);
}
