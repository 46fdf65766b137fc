using TokenFormer.TestSupport;

namespace TokenFormer.Cli.Tests;

/// <summary>
/// <c>tokenformer export</c>: writes an ONNX file for a float32 model; an unknown --format, a quantized model and a
/// missing model are refused with one-line messages and leave no file. (ONNX Runtime's parity with our logits is
/// checked in tests/TokenFormer.Onnx.Tests, which holds the test-only ONNX Runtime dependency.)
/// </summary>
public class ExportCliTests
{
    private static string Library => RepositoryPaths.Require(Path.Combine("tests", "fixtures", "library", "sotu-tiny"));

    [Fact]
    public void Export_WritesAnOnnxFile()
    {
        string dir = Fixtures.TempDir("export-cli"), path = Path.Combine(dir, "model.onnx");
        var (code, stdout, stderr) = Fixtures.RunCli("export", "--model", Library, "--format", "onnx", "--out", path);
        Assert.True(code == 0, stderr);
        Assert.Contains("exported", stdout);
        Assert.Contains("opset 17", stdout);
        Assert.Equal(["model.onnx"], Directory.GetFiles(dir).Select(Path.GetFileName));
        // a ModelProto starts with field 1 (ir_version, varint): key byte 0x08
        Assert.Equal(0x08, File.ReadAllBytes(path)[0]);
    }

    [Fact]
    public void UnknownFormat_IsRefused()
    {
        string dir = Fixtures.TempDir("export-bad-format"), path = Path.Combine(dir, "model.tflite");
        var (code, _, stderr) = Fixtures.RunCli("export", "--model", Library, "--format", "tflite", "--out", path);
        Assert.NotEqual(0, code);
        Assert.Contains("--format 'tflite'", stderr);
        Assert.Contains("onnx", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void QuantizedModel_IsRefused()
    {
        string dir = Fixtures.TempDir("export-quantized"), q = Path.Combine(dir, "q"), path = Path.Combine(dir, "model.onnx");
        var (code, _, stderr) = Fixtures.RunCli("quantize", "--model", Library, "--to", "int8", "--out", q);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = Fixtures.RunCli("export", "--model", q, "--format", "onnx", "--out", path);
        Assert.NotEqual(0, code);
        Assert.Contains("int8", stderr);
        Assert.Contains("float32", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void MissingModel_IsRefused()
    {
        string dir = Fixtures.TempDir("export-missing");
        var (code, _, stderr) = Fixtures.RunCli("export", "--model", Path.Combine(dir, "nope"), "--format", "onnx", "--out", Path.Combine(dir, "m.onnx"));
        Assert.NotEqual(0, code);
        Assert.Contains("nope", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
        Assert.Empty(Directory.GetFiles(dir));
    }
}

/// <summary><c>bench generate --runtime</c> in the tool: ONNX Runtime is not in the tool, so the option says where it runs.</summary>
public class BenchRuntimeCliTests
{
    [Fact]
    public void Onnxruntime_in_the_tool_names_the_bench_project()
    {
        var (code, _, stderr) = Fixtures.RunCli("bench", "generate", "--preset", "micro", "--runtime", "onnxruntime");
        Assert.NotEqual(0, code);
        Assert.Contains("bench/TokenFormer.Bench.OnnxRuntime", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
    }

    [Fact]
    public void An_unknown_runtime_is_refused()
    {
        var (code, _, stderr) = Fixtures.RunCli("bench", "generate", "--preset", "micro", "--runtime", "tensorrt");
        Assert.NotEqual(0, code);
        Assert.Contains("--runtime 'tensorrt'", stderr);
    }
}
