using System.Diagnostics;
using TokenFormer.Model;
using TokenFormer.TestSupport;
using TokenFormer.Text;

namespace TokenFormer.Cli.Tests;

/// <summary>The CLI as a child process, and the shared training data (<see cref="TrainingFixtures"/>) under short names.</summary>
internal static class Fixtures
{
    /// <inheritdoc cref="TrainingFixtures.Text"/>
    public static string Text => TrainingFixtures.Text;

    /// <inheritdoc cref="TrainingFixtures.Tokenizer"/>
    public static Tokenizer Tokenizer => TrainingFixtures.Tokenizer;

    /// <inheritdoc cref="TrainingFixtures.TinyConfig"/>
    public static TokenFormerConfig TinyConfig() => TrainingFixtures.TinyConfig();

    /// <inheritdoc cref="TrainingFixtures.TempDir"/>
    public static string TempDir(string name) => TrainingFixtures.TempDir(name);

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

    /// <summary>
    /// The training excerpt three times (as written, upper and lower case) in <paramref name="dir"/>, prepared with the
    /// shared tokenizer (a third held out, blank-line documents), and the tiny config (vocabulary from the data).
    /// Returns the data folder and the config path.
    /// </summary>
    public static (string Data, string Config) PrepareTinyCorpus(string dir)
    {
        string text = Path.Combine(dir, "text.txt"), tok = Path.Combine(dir, "tokenizer.json"), data = Path.Combine(dir, "data"), config = Path.Combine(dir, "config.json");
        File.WriteAllText(text, Text + "\n\n" + Text.ToUpperInvariant() + "\n\n" + Text.ToLowerInvariant());
        Tokenizer.Save(tok);
        var (code, stdout, stderr) = RunCli("prepare", "--tokenizer", tok, "--input", text, "--out", data, "--val-fraction", "0.34", "--boundary", "blank-line");
        Assert.True(code == 0, stderr);
        Assert.Contains("val ", stdout);
        TokenFormerConfig cfg = TinyConfig();
        cfg.VocabSize = null;
        cfg.Save(config);
        return (data, config);
    }
}
