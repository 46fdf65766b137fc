using System.IO.Compression;
using System.Text;
using System.Text.Json;
using TokenFormer.TestSupport;
using Xunit.Abstractions;

namespace TokenFormer.Text.Tests;

/// <summary>Locates and reads the committed tokenizer fixtures and the optional ../shared reference files.</summary>
internal static class Fixtures
{
    /// <summary>tests/fixtures/tokenizer, found by walking up from the test assembly's directory.</summary>
    public static string Directory { get; } = RepositoryPaths.Require(Path.Combine("tests", "fixtures", "tokenizer"));

    /// <summary>../shared/reference/gpt-neox-20b-tokenizer.json next to the repository, or null when absent.</summary>
    public static string? NeoxTokenizerPath { get; } = RepositoryPaths.FindUp(Path.Combine("shared", "reference", "gpt-neox-20b-tokenizer.json"));

    public static string PathOf(string name) => Path.Combine(Directory, name);

    public static string ReadGzipText(string name)
    {
        using var file = File.OpenRead(PathOf(name));
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gz, new UTF8Encoding(false, true));
        return reader.ReadToEnd();
    }

    private static readonly Lazy<string[]> CorpusLines = new(() => ReadJsonLines(ReadGzipText("corpus.jsonl.gz"), e => e.GetString()!));

    /// <summary>Golden corpus: one JSON string per line of corpus.jsonl.gz (read once; do not modify).</summary>
    public static string[] Corpus() => CorpusLines.Value;

    /// <summary>Hugging Face's ids for the corpus: one JSON array per line.</summary>
    public static int[][] Ids(string name) =>
        ReadJsonLines(ReadGzipText($"ids-{name}.jsonl.gz"), e => e.EnumerateArray().Select(x => x.GetInt32()).ToArray());

    public static Tokenizer LoadGzipTokenizer(string name) => Tokenizer.FromJson(ReadGzipText(name), name);

    /// <summary>Writes a visible skip message (xunit 2 has no dynamic skip) and returns true when <paramref name="path"/> is null.</summary>
    public static bool SkipIfAbsent(string? path, string what, ITestOutputHelper output)
    {
        if (path is not null) return false;
        string message = $"SKIPPED: {what} not found (expected ../shared/reference next to the repository)";
        output.WriteLine(message);
        Console.WriteLine(message);
        return true;
    }

    private static T[] ReadJsonLines<T>(string text, Func<JsonElement, T> convert)
    {
        var result = new List<T>();
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0) continue;
            using JsonDocument doc = JsonDocument.Parse(line);
            result.Add(convert(doc.RootElement));
        }
        return result.ToArray();
    }
}
