namespace TokenFormer.Runtime.Tests;

/// <summary>The committed library fixture (tests/fixtures/library), the training excerpt, and temporary folders.</summary>
internal static class Fixtures
{
    /// <summary>tests/fixtures, found by walking up from the test binaries.</summary>
    public static string Root
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d != null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "tests", "fixtures");
                if (Directory.Exists(Path.Combine(candidate, "library"))) return candidate;
            }
            throw new DirectoryNotFoundException("tests/fixtures/library not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>A complete model directory: L2 d32, a 320-token BPE, trained on <see cref="Text"/>.</summary>
    public static string ModelDirectory => Path.Combine(Root, "library", "sotu-tiny");

    /// <summary>The committed 1790 State of the Union excerpt the fixture model was trained on.</summary>
    public static string Text => File.ReadAllText(Path.Combine(Root, "training", "sotu-1790-excerpt.txt"));

    /// <summary>A fresh empty folder under the system temp directory, removed when the test process exits.</summary>
    public static string TempDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "tf-runtime-tests", Environment.ProcessId.ToString(), name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    }
}
