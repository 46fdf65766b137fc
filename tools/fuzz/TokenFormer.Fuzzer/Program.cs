using SharpFuzz;
using TokenFormer.Fuzz;

// The SharpFuzz driver (docs/reliability.md, Fuzzing). Usage:
//   TokenFormer.Fuzzer TARGET                 run under afl-fuzz (persistent: one process runs many inputs; the input
//                                             comes from afl-fuzz); outside afl-fuzz it reads one input from stdin
//   TokenFormer.Fuzzer --out-of-process TARGET  the same, but each input runs in a child process that is restarted
//                                             when it dies, so that an input which kills the process (a native
//                                             access violation, a stack overflow) is recorded as a crash instead of
//                                             ending the campaign ("Unable to communicate with fork server")
//   TokenFormer.Fuzzer --replay TARGET PATH…  run each file (or every file in each folder) once and print its outcome;
//                                             exit 1 when any input breaks the target's contract
//   TokenFormer.Fuzzer --list                 print the targets
// tools/fuzz/run builds this, instruments the library assemblies in a copy of its output and starts afl-fuzz.

if (args.Length == 1 && args[0] == "--list")
{
    foreach (FuzzTarget t in FuzzTargets.All)
        Console.WriteLine($"{t.Name,-18} {t.Reads}; typed errors: {string.Join(", ", t.TypedErrors.Select(e => e.Name))}; " +
            $"allocation bound {t.BoundText}");
    return 0;
}

string scratch = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"tokenformer-fuzz-{Environment.ProcessId}");
Directory.CreateDirectory(scratch);
try
{
    if (args.Length >= 3 && args[0] == "--replay")
    {
        FuzzTarget target = FuzzTargets.Get(args[1]);
        var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? (IEnumerable<string>)Directory.GetFiles(p).Order(StringComparer.Ordinal) : [p]).ToList();
        int broken = 0, accepted = 0;
        foreach (string file in files)
        {
            try
            {
                FuzzOutcome o = FuzzHarness.Execute(target, File.ReadAllBytes(file), scratch, TimeSpan.FromSeconds(5));
                if (o.Accepted) accepted++;
                Console.WriteLine($"{file}: {(o.Accepted ? "accepted" : "typed error")} ({o.AllocatedBytes:N0} B, {o.Elapsed.TotalMilliseconds:F1} ms){(o.Error == null ? "" : ": " + Trim(o.Error))}");
            }
            catch (FuzzContractException e)
            {
                broken++;
                Console.WriteLine($"{file}: BROKEN: {e.Message}");
                if (e.InnerException != null) Console.WriteLine(e.InnerException);
            }
        }
        Console.WriteLine($"{files.Count} inputs: {accepted} accepted, {files.Count - accepted - broken} typed errors, {broken} broken");
        return broken == 0 ? 0 : 1;
    }
    if (args.Length == 1 || (args.Length == 2 && args[0] == "--out-of-process"))
    {
        FuzzTarget target = FuzzTargets.Get(args[^1]);
        // afl-fuzz has its own time limit (-t, a hang); the harness's bound is looser so a loaded machine is no crash.
        var bound = TimeSpan.FromSeconds(10);
        void RunOne(Stream stream)
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            FuzzHarness.Execute(target, buffer.ToArray(), scratch, bound);
        }
        if (args.Length == 2) Fuzzer.OutOfProcess.Run(RunOne);
        else Fuzzer.Run(RunOne);
        return 0;
    }
    Console.Error.WriteLine("usage: TokenFormer.Fuzzer TARGET | --replay TARGET PATH... | --list");
    return 2;
}
finally
{
    try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
}

static string Trim(string s) => s.Length > 160 ? s[..160] + "…" : s;
