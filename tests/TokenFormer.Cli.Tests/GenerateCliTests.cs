using System.Diagnostics;
using System.Text.Json;
using TokenFormer.Model;
using TokenFormer.Model.Inference;

namespace TokenFormer.Cli.Tests;

/// <summary><c>tokenformer generate</c> as a user runs it (the streaming detokeniser behind it is tested in TokenFormer.Runtime.Tests).</summary>
public class GenerateCliTests
{
    private static readonly Lazy<string> ModelDir = new(() =>
    {
        string dir = Fixtures.TempDir("generate-model");
        var model = new TokenFormerModel(Fixtures.TinyConfig());
        model.InitializeRandom(3);
        ModelDirectory.Save(model, dir);
        Fixtures.Tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        return dir;
    });

    private static int[] Greedy(string prompt, int newTokens)
    {
        TokenFormerModel model = ModelDirectory.Load(ModelDir.Value);
        var g = new Generator(model);
        return g.Generate([Fixtures.Tokenizer.Encode(prompt)], new SamplingOptions { MaxNewTokens = newTokens, Temperature = 0 })[0];
    }

    [Fact]
    public void Json_PrintsOneObjectPerPrompt_WithTheGreedyIdsAndTheirText()
    {
        var (code, stdout, stderr) = Fixtures.RunCli("generate", "--model", ModelDir.Value, "--prompt", "Fellow-Citizens", "--prompt", "the",
            "--json", "--temperature", "0", "--max-new-tokens", "9", "--ignore-eos", "--threads", "1");
        Assert.True(code == 0, stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        string[] prompts = ["Fellow-Citizens", "the"];
        for (int i = 0; i < 2; i++)
        {
            JsonElement o = JsonDocument.Parse(lines[i]).RootElement;
            int[] ids = o.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(Greedy(prompts[i], 9), ids);
            Assert.Equal(Fixtures.Tokenizer.Decode(ids), o.GetProperty("text").GetString());
        }
    }

    [Fact]
    public void Streaming_PrintsThePromptThenTheCompletion()
    {
        var (code, stdout, stderr) = Fixtures.RunCli("generate", "--model", ModelDir.Value, "--prompt", "Fellow", "--temperature", "0",
            "--max-new-tokens", "12", "--ignore-eos", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Equal("Fellow" + Fixtures.Tokenizer.Decode(Greedy("Fellow", 12)) + "\n", stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void PromptIds_AndSampling_AreDeterministicForASeed()
    {
        string[] args = ["generate", "--model", ModelDir.Value, "--prompt-ids", "5,6,7", "--json", "--temperature", "0.8", "--top-k", "40",
            "--top-p", "0.9", "--repetition-penalty", "1.2", "--seed", "11", "--max-new-tokens", "10", "--threads", "1"];
        var a = Fixtures.RunCli(args);
        var b = Fixtures.RunCli(args);
        Assert.True(a.Code == 0, a.Err);
        Assert.Equal(a.Out, b.Out);
        Assert.StartsWith("{\"ids\":[", a.Out);
    }

    [Fact]
    public void Interactive_GeneratesForEachLineUntilAnEmptyLine()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "tokenformer.dll"), "generate", "--model", ModelDir.Value, "--interactive",
                     "--temperature", "0", "--max-new-tokens", "5", "--ignore-eos", "--threads", "1" })
            psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        p.StandardInput.Write("Fellow\nthe\n\nnever read\n");
        p.StandardInput.Close();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(0, p.ExitCode);
        string expected = "Fellow" + Fixtures.Tokenizer.Decode(Greedy("Fellow", 5)) + "\n" + "the" + Fixtures.Tokenizer.Decode(Greedy("the", 5)) + "\n";
        Assert.Equal(expected, stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Errors_AreOneClearLine()
    {
        string bare = Fixtures.TempDir("generate-no-tokenizer");
        foreach (string f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(ModelDir.Value, f), Path.Combine(bare, f));
        (string[] Args, string Expect)[] cases =
        [
            (["--model", bare, "--prompt", "hello"], "tokenizer.json: file not found"),
            (["--model", Path.Combine(bare, "nope"), "--prompt", "hello"], "model directory not found"),
            (["--model", ModelDir.Value, "--prompt", "hello", "--max-new-tokens", "100"], "more than the context length 64"),
            (["--model", ModelDir.Value, "--prompt-ids", "1,x"], "'x' is not a token id"),
            (["--model", ModelDir.Value, "--prompt-ids", "1,99999", "--max-new-tokens", "3"], "outside the model's vocabulary"),
            (["--model", ModelDir.Value, "--prompt", "a", "--top-p", "0"], "--top-p must be in (0, 1]"),
            (["--model", ModelDir.Value], "give --prompt TEXT"),
        ];
        foreach (var (args, expect) in cases)
        {
            var (code, _, stderr) = Fixtures.RunCli(["generate", .. args]);
            Assert.Equal(1, code);
            Assert.StartsWith("error: ", stderr);
            Assert.Contains(expect, stderr);
        }
        // the default --max-new-tokens (64) shrinks to fit the 64-token context
        var fits = Fixtures.RunCli("generate", "--model", ModelDir.Value, "--prompt", "Fellow", "--json", "--ignore-eos", "--threads", "1");
        Assert.True(fits.Code == 0, fits.Err);
        Assert.Equal(64 - Fixtures.Tokenizer.Encode("Fellow").Length, JsonDocument.Parse(fits.Out).RootElement.GetProperty("ids").GetArrayLength());
        // --prompt-ids works without a tokenizer: ids only
        var ok = Fixtures.RunCli("generate", "--model", bare, "--prompt-ids", "1,2", "--json", "--max-new-tokens", "3", "--threads", "1");
        Assert.True(ok.Code == 0, ok.Err);
        Assert.Contains("\"text\":null", ok.Out);
    }
}
