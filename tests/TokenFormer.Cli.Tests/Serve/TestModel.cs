using System.IO.Compression;
using TokenFormer.Model;
using TokenFormer.TestSupport;
using TokenFormer.Text;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>
/// A real model directory for end-to-end tests: the micro preset (L2 d128) with random weights, a 128-position
/// context and the committed 8192-token trained tokenizer (tests/fixtures/tokenizer/trained-tokenizer.json.gz).
/// Built once per test process in a temporary folder removed at exit (<see cref="TempFolders"/>).
/// </summary>
internal static class TestModel
{
    public const int ContextLength = 128;

    private static readonly Lazy<string> Dir = new(Build);

    /// <summary>The model directory (config.json, model.safetensors, tokenizer.json).</summary>
    public static string Directory => Dir.Value;

    private static string Build()
    {
        string tokenizerGz = RepositoryPaths.Require(Path.Combine("tests", "fixtures", "tokenizer", "trained-tokenizer.json.gz"));
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

        string dir = Path.Combine(TempFolders.Create("serve-model"), "micro-random");
        ModelDirectory.Save(model, dir);
        tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        return dir;
    }
}
