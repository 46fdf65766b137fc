using System.Diagnostics;
using Xunit;

namespace TokenFormer.TestSupport;

/// <summary>
/// A fact that needs to mount a small tmpfs (a file system that fills up on demand): Linux, root, and a kernel/container
/// that allows mounting. Where that is not possible the runner reports the test as skipped with the reason, rather
/// than as passed without having checked anything.
/// </summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(Probe);

    /// <summary>Sets <see cref="FactAttribute.Skip"/> when a tmpfs cannot be mounted here.</summary>
    public TmpfsFactAttribute()
    {
        if (Unavailable.Value is { } why) Skip = why;
    }

    /// <summary>Mounts a tmpfs of <paramref name="kilobytes"/> KiB on <paramref name="folder"/> (created if missing).</summary>
    public static void Mount(string folder, int kilobytes)
    {
        Directory.CreateDirectory(folder);
        Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", folder);
    }

    /// <summary>Changes the size of the tmpfs mounted on <paramref name="folder"/>.</summary>
    public static void Resize(string folder, int kilobytes) => Run("mount", "-o", $"remount,size={kilobytes}k", folder);

    /// <summary>Makes the tmpfs mounted on <paramref name="folder"/> read-only (writes fail with EROFS, even for root).</summary>
    public static void MakeReadOnly(string folder) => Run("mount", "-o", "remount,ro", folder);

    /// <summary>Unmounts <paramref name="folder"/> (lazily, so a file still open does not keep it busy).</summary>
    public static void Unmount(string folder) => Run("umount", "-l", folder);

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "needs Linux (mounts a tmpfs)";
        if (Environment.UserName != "root") return "needs root to mount a tmpfs";
        string dir = Path.Combine(Path.GetTempPath(), $"tmpfs-probe-{Environment.ProcessId}");
        try
        {
            Mount(dir, 64);
            Unmount(dir);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return "cannot mount a tmpfs here: " + e.Message;
        }
        finally
        {
            try { Directory.Delete(dir); } catch (IOException) { }
        }
    }

    private static void Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args) info.ArgumentList.Add(a);
        using Process p = Process.Start(info)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {p.ExitCode}: {err.Trim()}");
    }
}
