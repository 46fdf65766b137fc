using System.Diagnostics;
using TokenFormer.Model;
using TokenFormer.Text;

namespace TokenFormer.Training.Tests;

/// <summary>Shared test data: the committed text excerpt, a small BPE trained on it, tiny configs, temp folders and the CLI.</summary>
internal static class Fixtures
{
    private static readonly Lazy<Tokenizer> SmallTokenizer = new(() =>
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 320 });
        trainer.AddText(Text);
        return trainer.Train();
    });

    /// <summary>tests/fixtures/training, found by walking up from the test binaries.</summary>
    public static string Directory
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null && !System.IO.Directory.Exists(Path.Combine(dir, "tests", "fixtures", "training"))) dir = Path.GetDirectoryName(dir);
            return dir != null ? Path.Combine(dir, "tests", "fixtures", "training") : throw new DirectoryNotFoundException("tests/fixtures/training not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The committed excerpt (about 3.4 KB).</summary>
    public static string Text => File.ReadAllText(Path.Combine(Directory, "sotu-1790-excerpt.txt"));

    /// <summary>A 320-id byte-level BPE trained on <see cref="Text"/> (id 0 is &lt;|endoftext|&gt;).</summary>
    public static Tokenizer Tokenizer => SmallTokenizer.Value;

    /// <summary>A tiny model config (L1, d32, 2 heads) with the tokenizer's vocabulary.</summary>
    public static TokenFormerConfig TinyConfig() => new()
    {
        NumLayers = 1, HiddenSize = 32, NumAttentionHeads = 2, QkvSlotNum = 32, ProjSlotNum = 32, FfnSlotNum = 64,
        MaxPositionEmbeddings = 64, VocabSize = Tokenizer.VocabSize,
    };

    private static readonly Lazy<string> SessionRoot = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "tf-training-tests", Environment.ProcessId.ToString());
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    });

    /// <summary>A fresh empty folder under the system temp directory (removed when the test process exits).</summary>
    public static string TempDir(string name)
    {
        string dir = Path.Combine(SessionRoot.Value, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Starts the tokenformer CLI (the built tokenformer.dll beside the tests) as a child process.</summary>
    public static Process StartCli(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "tokenformer.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        if (environment != null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
    }

    /// <summary>Runs the CLI to completion: exit code, stdout, stderr.</summary>
    public static (int Code, string Out, string Err) RunCli(params string[] args)
    {
        using Process p = StartCli(args);
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("tokenformer " + string.Join(' ', args) + " did not finish in 120 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
