using System.Reflection;
using System.Security.Cryptography;
using TokenFormer.Model.Distributed;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// Runs a command under an MPI launcher (docs/distributed.md): connects to MPI when a launcher started the process
/// (<see cref="MpiLaunch"/>; otherwise nothing is loaded), silences standard output on ranks other than 0, and turns an
/// error on any rank of a several-rank job into MPI_Abort, so that no rank is left waiting in a collective.
/// </summary>
public static class DistributedRun
{
    public static int Run(Func<ICommunicator, int> body)
    {
        ICommunicator comm;
        try { comm = MpiLaunch.Connect(); }
        catch (Exception e) when (e is MpiUnavailableException or MpiException) { throw new CliException(e.Message); }
        using (comm)
        {
            if (comm.Size == 1) return body(comm);
            TextWriter stdout = Console.Out;
            if (comm.Rank != 0) Console.SetOut(TextWriter.Null); // the other ranks report nothing but errors
            try { return body(comm); }
            catch (RankMismatchException e)
            {
                // every rank found the same mismatch (the check is collective): rank 0 says it once, then all stop
                if (comm.Rank == 0) Console.Error.WriteLine($"error: {e.Message}");
                Console.Error.Flush();
                comm.Barrier();
                comm.Abort(1);
                return 1;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"error: rank {comm.Rank} of {comm.Size}: {(e is CliException ? e.Message : e.ToString())}; ending the job");
                Console.Error.Flush();
                comm.Abort(1);
                return 1;
            }
            finally { if (comm.Rank != 0) Console.SetOut(stdout); }
        }
    }

    /// <summary>This build's version (the informational version of the tool) and the .NET runtime.</summary>
    public static string Version() =>
        (typeof(DistributedRun).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown")
        + $" on .NET {Environment.Version}" + (Environment.GetEnvironmentVariable(VersionTestVariable) is string extra ? " " + extra : "");

    /// <summary>Test hook: appended to the version a rank reports at the start-up check, to test that a mismatch is refused.</summary>
    public const string VersionTestVariable = "TOKENFORMER_TEST_VERSION_SUFFIX";

    /// <summary>
    /// A file's identity for the start-up check: its length and the SHA-256 of its first and last 1 MiB (whole files
    /// up to 2 MiB), so that large token streams are compared without reading them whole. "missing" when absent.
    /// </summary>
    public static string FileFingerprint(string path)
    {
        if (!File.Exists(path)) return "missing";
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        const int Part = 1 << 20;
        long length = fs.Length;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[Part];
        void Hash(long from, long count)
        {
            fs.Position = from;
            while (count > 0)
            {
                int n = fs.Read(buffer, 0, (int)Math.Min(count, buffer.Length));
                if (n <= 0) break;
                sha.AppendData(buffer, 0, n);
                count -= n;
            }
        }
        if (length <= 2 * Part) Hash(0, length);
        else { Hash(0, Part); Hash(length - Part, Part); }
        return $"{length} bytes, sha256 {Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant()}";
    }
}
