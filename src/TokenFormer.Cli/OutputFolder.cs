namespace TokenFormer.Cli;

/// <summary>
/// Writes a command's output folder so that a failure (a full disk, a read-only folder) leaves nothing behind: what the
/// write added to the folder (files, temporary files, the folder itself when it did not exist) is removed before the
/// error goes on. Each file is already written through a temporary name and a rename, so no file under a final name
/// is partial; this removes the complete files of an incomplete model directory too.
/// </summary>
internal static class OutputFolder
{
    /// <summary>Runs <paramref name="write"/>; on an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> removes what it added to <paramref name="folder"/> and rethrows.</summary>
    public static void Write(string folder, Action write)
    {
        string full = Path.GetFullPath(folder);
        bool existed = Directory.Exists(full);
        HashSet<string> before = existed ? Directory.EnumerateFileSystemEntries(full).ToHashSet() : [];
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                if (!existed)
                {
                    if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
                }
                else
                {
                    foreach (string entry in Directory.EnumerateFileSystemEntries(full).Where(x => !before.Contains(x)).ToList())
                    {
                        if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
                        else File.Delete(entry);
                    }
                }
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // nothing more can be done on a folder that refuses changes; the original error says why
            }
            throw;
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="target"/> through a temporary file and a rename; on failure the
    /// temporary file is removed and the <see cref="IOException"/> names the target (the runtime's copy error does not).
    /// </summary>
    public static void CopyFile(string source, string target)
    {
        string temp = target + ".tmp-" + Environment.ProcessId;
        try
        {
            File.Copy(source, temp, overwrite: true);
            File.Move(temp, target, overwrite: true);
        }
        catch (IOException e)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new IOException($"{target}: {e.Message}", e);
        }
    }
}
