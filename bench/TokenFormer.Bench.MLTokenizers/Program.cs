using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using TokenFormer.Text;
using MLTokenizer = Microsoft.ML.Tokenizers.Tokenizer;

// Encode throughput of our GPT-2 tokenizer (directly and through MLTokenizerAdapter) against Microsoft.ML.Tokenizers'
// own GPT-2 tokenizer (TiktokenTokenizer "gpt2"), single-threaded, on the same chunks, rounds interleaved so load
// changes hit all three alike. Usage: dotnet run -c Release --project bench/TokenFormer.Bench.MLTokenizers [-- REPS [TEXT_FILE]]
// Default text: the golden tokenizer corpus (tests/fixtures/tokenizer/corpus.jsonl.gz), lines joined with newlines.
int reps = args.Length > 0 ? int.Parse(args[0]) : 7;
string root = FindRoot();
string text = args.Length > 1 ? File.ReadAllText(args[1]) : CorpusText(Path.Combine(root, "tests", "fixtures", "tokenizer", "corpus.jsonl.gz"));
string[] chunks = Chunk(text, 64 * 1024);
long bytes = Encoding.UTF8.GetByteCount(text);

string gpt2Json;
using (var gz = new GZipStream(File.OpenRead(Path.Combine(root, "tests", "fixtures", "tokenizer", "gpt2-tokenizer.json.gz")), CompressionMode.Decompress))
using (var reader = new StreamReader(gz)) gpt2Json = reader.ReadToEnd();
TokenFormer.Text.Tokenizer ours = TokenFormer.Text.Tokenizer.FromJson(gpt2Json, "gpt2-tokenizer.json");
MLTokenizer adapter = new MLTokenizerAdapter(ours);
MLTokenizer ml = TiktokenTokenizer.CreateForModel("gpt2");

var runs = new Dictionary<string, List<double>> { ["ours"] = [], ["ours via adapter"] = [], ["Microsoft.ML.Tokenizers"] = [] };
var counts = new Dictionary<string, long>();
for (int r = 0; r <= reps; r++) // round 0 warms up (JIT, caches) and is not counted
{
    Time("ours", () => chunks.Sum(c => (long)ours.Encode(c).Length));
    Time("ours via adapter", () => chunks.Sum(c => (long)adapter.EncodeToIds(c).Count));
    Time("Microsoft.ML.Tokenizers", () => chunks.Sum(c => (long)ml.EncodeToIds(c).Count));

    void Time(string name, Func<long> encode)
    {
        long start = Stopwatch.GetTimestamp();
        long n = encode();
        double s = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (r > 0) runs[name].Add(s);
        counts[name] = n;
    }
}
if (counts.Values.Distinct().Count() != 1) throw new InvalidOperationException("token counts differ: " + JsonSerializer.Serialize(counts));
Console.WriteLine($"{bytes / 1e6:F2} MB in {chunks.Length} chunks, {counts["ours"]} tokens, {reps} timed rounds (medians), one thread");
double mlMedian = Median(runs["Microsoft.ML.Tokenizers"]);
foreach (var (name, s) in runs)
{
    double m = Median(s);
    Console.WriteLine($"{name,-26} median {m:F3} s  {bytes / 1e6 / m,7:F2} MB/s  {mlMedian / m,5:F2}x Microsoft.ML.Tokenizers  runs {string.Join(' ', s.Select(x => x.ToString("F3")))}");
}

static double Median(List<double> v) { var s = v.Order().ToArray(); return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }

static string CorpusText(string path)
{
    using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var reader = new StreamReader(gz);
    var sb = new StringBuilder();
    foreach (string line in reader.ReadToEnd().Split('\n'))
        if (line.Length > 0) sb.Append(JsonDocument.Parse(line).RootElement.GetString()).Append('\n');
    return sb.ToString();
}

static string[] Chunk(string text, int size)
{
    var chunks = new List<string>();
    for (int start = 0; start < text.Length;)
    {
        int end = Math.Min(text.Length, start + size);
        if (end < text.Length) { int nl = text.LastIndexOf('\n', end - 1, end - start); if (nl > start) end = nl + 1; }
        chunks.Add(text[start..end]);
        start = end;
    }
    return chunks.ToArray();
}

static string FindRoot()
{
    for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
        if (File.Exists(Path.Combine(d, "TokenFormer.sln"))) return d;
    throw new DirectoryNotFoundException("TokenFormer.sln not found above " + AppContext.BaseDirectory);
}
