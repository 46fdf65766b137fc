namespace TokenFormer.TestSupport;

/// <summary>Fresh folders under the system temp directory, one root per test process, removed when the process exits.</summary>
public static class TempFolders
{
    private static readonly Lazy<string> SessionRoot = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "tokenformer-tests", Environment.ProcessId.ToString());
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    });

    /// <summary>Creates and returns an empty folder whose name starts with <paramref name="name"/>.</summary>
    public static string Create(string name)
    {
        string dir = Path.Combine(SessionRoot.Value, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
