using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace TokenFormer.Cli.Tests.Distributed;

/// <summary>
/// Runs the tokenformer CLI under Open MPI's mpirun for the data-parallel tests: oversubscription allowed (the
/// machine may have fewer cores than ranks), run-as-root allowed (CI runs as root), every run bounded in time so a hang
/// fails the test instead of blocking CI. Without mpirun a test is skipped, except under CI=true, where it fails
/// (.ci/run installs openmpi-bin).
/// </summary>
internal static class Mpi
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(150);

    public static string? Find() =>
        new[] { Environment.GetEnvironmentVariable("MPIRUN"), "/usr/bin/mpirun", "/usr/local/bin/mpirun" }
            .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    /// <summary>mpirun's path, or null after saying why the test is skipped; fails under CI=true.</summary>
    public static string? Require(ITestOutputHelper output)
    {
        string? mpirun = Find();
        if (mpirun != null) return mpirun;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail("CI=true but mpirun was not found (looked at $MPIRUN, /usr/bin/mpirun, /usr/local/bin/mpirun); install Debian's openmpi-bin (.ci/run does when it runs as root)");
        output.WriteLine("SKIPPED: mpirun not found (apt-get install openmpi-bin)");
        return null;
    }

    /// <summary>
    /// mpirun with one or more application contexts (MPMD: "-np 1 … : -np 1 …"); each context is (ranks, extra
    /// environment passed with -x, CLI arguments).
    /// </summary>
    public static Process Start(string mpirun, params (int Ranks, IDictionary<string, string>? Env, IReadOnlyList<string> Args)[] contexts)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "tokenformer.dll");
        var psi = new ProcessStartInfo(mpirun) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--oversubscribe");
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        // one core per rank is plenty for the tiny model; never bind ranks to cores other workers use
        psi.ArgumentList.Add("--bind-to");
        psi.ArgumentList.Add("none");
        for (int c = 0; c < contexts.Length; c++)
        {
            if (c > 0) psi.ArgumentList.Add(":");
            psi.ArgumentList.Add("-np");
            psi.ArgumentList.Add(contexts[c].Ranks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (contexts[c].Env != null)
                foreach (var (k, v) in contexts[c].Env!) { psi.ArgumentList.Add("-x"); psi.ArgumentList.Add($"{k}={v}"); }
            psi.ArgumentList.Add("dotnet");
            psi.ArgumentList.Add(dll);
            foreach (string a in contexts[c].Args) psi.ArgumentList.Add(a);
        }
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start mpirun");
    }

    /// <summary>Runs to completion within <see cref="Limit"/>: exit code, stdout, stderr.</summary>
    public static (int Code, string Out, string Err) Run(string mpirun, int ranks, params string[] args) =>
        Wait(Start(mpirun, (ranks, null, args)), "mpirun -np " + ranks + " tokenformer " + string.Join(' ', args));

    /// <summary>Waits within <see cref="Limit"/> (killing the job on timeout and failing).</summary>
    public static (int Code, string Out, string Err) Wait(Process p, string what)
    {
        using (p)
        {
            Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit((int)Limit.TotalMilliseconds))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail($"{what} did not finish in {Limit.TotalSeconds} s");
            }
            p.WaitForExit();
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
    }

    /// <summary>The processes whose environment says they are rank <paramref name="rank"/> of an Open MPI job started under <paramref name="root"/> (by pid ancestry).</summary>
    public static List<int> RankProcesses(int root, int rank)
    {
        var found = new List<int>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string env = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "environ")));
                if (!env.Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}")) continue;
                if (IsDescendant(pid, root)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return found;
    }

    private static bool IsDescendant(int pid, int root)
    {
        for (int i = 0; i < 64 && pid > 1; i++)
        {
            if (pid == root) return true;
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // the fields after the command name (in parentheses): state, ppid, …
            string[] rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            pid = int.Parse(rest[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return false;
    }
}
