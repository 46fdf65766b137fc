using TokenFormer.TestSupport;

namespace TokenFormer.Cli.Tests;

/// <summary><c>tokenformer quantize</c> end to end: the quantized directory runs forward and generate; grow (which shares train --init-from's loader) and a bad --to are refused with messages.</summary>
public class QuantizeCliTests
{
    private static string Library => RepositoryPaths.Require(Path.Combine("tests", "fixtures", "library", "sotu-tiny"));

    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    [InlineData("int4")]
    public void QuantizedModel_RunsForwardAndGenerate_AndIsRefusedByGrow(string format)
    {
        string dir = Fixtures.TempDir("quantize-cli"), q = Path.Combine(dir, "q");
        var (code, stdout, stderr) = Fixtures.RunCli("quantize", "--model", Library, "--to", format, "--out", q);
        Assert.True(code == 0, stderr);
        Assert.Contains($"to {format}", stdout);
        Assert.True(File.Exists(Path.Combine(q, "tokenizer.json")));
        Assert.Contains($"\"weight_format\": \"{format}\"", File.ReadAllText(Path.Combine(q, "config.json")));

        (code, stdout, stderr) = Fixtures.RunCli("forward", "--model", q, "--ids", "1,2,3,4", "--targets", "2,3,4,5", "--out", Path.Combine(dir, "f.safetensors"));
        Assert.True(code == 0, stderr);
        Assert.Contains("loss ", stdout);
        (code, stdout, stderr) = Fixtures.RunCli("generate", "--model", q, "--prompt", "The state of the Union", "--max-new-tokens", "5", "--temperature", "0");
        Assert.True(code == 0, stderr);
        Assert.StartsWith("The state of the Union", stdout.Trim());

        (code, _, stderr) = Fixtures.RunCli("grow", "--from", q, "--factor", "2", "--out", Path.Combine(dir, "g"));
        Assert.NotEqual(0, code);
        Assert.Contains($"stored in {format}", stderr);
        Assert.Contains("float32", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
    }

    [Fact]
    public void BenchMemory_ReportsTheStagesOfAQuantizedModel_AndRefusesABadDtype()
    {
        string dir = Fixtures.TempDir("quantize-memory"), q = Path.Combine(dir, "q");
        var (code, _, stderr) = Fixtures.RunCli("quantize", "--model", Library, "--to", "int8", "--out", q);
        Assert.True(code == 0, stderr);
        (code, string stdout, stderr) = Fixtures.RunCli("bench", "memory", "--model", q, "--prompt-tokens", "3", "--new-tokens", "2");
        Assert.True(code == 0, stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        Assert.Equal("int8", root.GetProperty("dtype").GetString());
        Assert.Equal(5, root.GetProperty("max_length").GetInt32());
        Assert.True(root.GetProperty("weights_bytes").GetInt64() > 0);
        foreach (string stage in new[] { "start", "loaded", "generator_built", "generated" })
            Assert.True(root.GetProperty(stage).TryGetProperty("rss", out _), stage);
        if (OperatingSystem.IsLinux())
            Assert.True(root.GetProperty("generated").GetProperty("peak").GetDouble() >= root.GetProperty("start").GetProperty("rss").GetDouble());

        (code, _, stderr) = Fixtures.RunCli("bench", "memory", "--dtype", "int3");
        Assert.NotEqual(0, code);
        Assert.Contains("--dtype 'int3'", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
    }

    [Fact]
    public void BenchGenerate_Against_TimesBothStoragesInOneRun_AndRefusesABadDtype()
    {
        var (code, stdout, stderr) = Fixtures.RunCli("bench", "generate", "--preset", "micro", "--dtype", "int8", "--against", "float32", "--json",
            "--prefill-tokens", "8", "--prompt-tokens", "4", "--new-tokens", "6", "--reps", "5");
        Assert.True(code == 0, stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var root = doc.RootElement;
        Assert.Equal("int8", root.GetProperty("dtype").GetString());
        Assert.Equal("float32", root.GetProperty("against").GetString());
        foreach (string field in new[] { "against_decode_tok_s", "against_prefill_tok_s", "against_decode_pair_ratio", "against_prefill_pair_ratio", "against_bandwidth_fraction" })
            Assert.True(root.GetProperty(field).GetDouble() > 0, field);

        (code, _, stderr) = Fixtures.RunCli("bench", "generate", "--preset", "micro", "--against", "fp8");
        Assert.NotEqual(0, code);
        Assert.Contains("--against 'fp8'", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
    }

    [Fact]
    public void UnknownTargetFormat_IsRefused()
    {
        string dir = Fixtures.TempDir("quantize-bad");
        var (code, _, stderr) = Fixtures.RunCli("quantize", "--model", Library, "--to", "int3", "--out", Path.Combine(dir, "q"));
        Assert.NotEqual(0, code);
        Assert.Contains("--to 'int3'", stderr);
        Assert.Contains("bf16, int8 or int4", stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "q")));
    }
}
