using TokenFormer.TestSupport;

namespace TokenFormer.Model.Tests;

/// <summary>Locates the committed fixtures (tests/fixtures) from the test's working directory.</summary>
internal static class Fixtures
{
    public static string Root => RepositoryPaths.Require(Path.Combine("tests", "fixtures"));

    public static string ModelRoot => Path.Combine(Root, "model");

    public static IEnumerable<object[]> ModelNames() =>
        Directory.GetDirectories(Path.Combine(Root, "model"))
            .Where(d => File.Exists(Path.Combine(d, "golden.safetensors")))
            .Select(d => new object[] { Path.GetFileName(d) })
            .OrderBy(x => (string)x[0]);
}
