using System.IO.Compression;
using TokenFormer.Model;
using TokenFormer.Text;

namespace TokenFormer.Serve.Tests;

/// <summary>
/// A real model directory for end-to-end tests: the micro preset (L2 d128) with random weights, a 128-position
/// context and the committed 8192-token trained tokenizer (tests/fixtures/tokenizer/trained-tokenizer.json.gz).
/// Built once per test process in a temporary folder removed at exit.
/// </summary>
internal static class TestModel
{
    public const int ContextLength = 128;

    private static readonly Lazy<string> Dir = new(Build);

    /// <summary>The model directory (config.json, model.safetensors, tokenizer.json).</summary>
    public static string Directory => Dir.Value;

    private static string Build()
    {
        string tokenizerGz = FindUp(Path.Combine("tests", "fixtures", "tokenizer", "trained-tokenizer.json.gz"))
            ?? throw new InvalidOperationException("tests/fixtures/tokenizer/trained-tokenizer.json.gz not found above " + AppContext.BaseDirectory);
        string json;
        using (var gz = new GZipStream(File.OpenRead(tokenizerGz), CompressionMode.Decompress))
        using (var reader = new StreamReader(gz))
            json = reader.ReadToEnd();
        Tokenizer tokenizer = Tokenizer.FromJson(json, tokenizerGz);

        TokenFormerConfig config = TokenFormerPresets.Get("micro");
        config.VocabSize = tokenizer.VocabSize;
        config.MaxPositionEmbeddings = ContextLength;
        var model = new TokenFormerModel(config);
        model.InitializeRandom(seed: 7);

        string dir = Path.Combine(Path.GetTempPath(), "tokenformer-serve-tests-" + Guid.NewGuid().ToString("N")[..8], "micro-random");
        System.IO.Directory.CreateDirectory(dir);
        ModelDirectory.Save(model, dir);
        tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    }

    /// <summary>The first existing <paramref name="relative"/> path above the test assembly's folder, or null.</summary>
    public static string? FindUp(string relative)
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, relative);
            if (File.Exists(candidate) || System.IO.Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
