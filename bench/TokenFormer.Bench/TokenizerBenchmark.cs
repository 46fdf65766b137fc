using System.Diagnostics;
using System.Text;
using System.Text.Json;
using TokenFormer.Text;

namespace TokenFormer.Bench;

/// <summary>Settings of <see cref="TokenizerBenchmark"/>.</summary>
public sealed record TokenizerBenchOptions
{
    public required string TokenizerPath { get; init; }
    public required string InputPath { get; init; }
    /// <summary>Timed repetitions; the median is reported.</summary>
    public int Repetitions { get; init; } = 5;
    /// <summary>Chunk size in UTF-16 units; chunks end at line ends (the Node reference script uses the same).</summary>
    public int ChunkChars { get; init; } = 64 * 1024;
    public bool Json { get; init; }
}

/// <summary>
/// Encode throughput of a tokenizer on a text file cut into 64 KiB chunks at line ends: single-threaded
/// (<see cref="Tokenizer.Encode(string)"/> chunk after chunk) and multi-threaded (<see cref="Tokenizer.EncodeBatch"/>
/// over all chunks). Reports medians in MB/s of UTF-8 input.
/// </summary>
public static class TokenizerBenchmark
{
    public static void Run(TokenizerBenchOptions options, TextWriter output)
    {
        Tokenizer tokenizer = Tokenizer.Load(options.TokenizerPath);
        string text = File.ReadAllText(options.InputPath, new UTF8Encoding(false, false));
        long bytes = Encoding.UTF8.GetByteCount(text);
        string[] chunks = Chunk(text, options.ChunkChars);
        int threads = TokenFormer.Core.Threading.Parallelism.ThreadCount;

        long tokens = 0;
        var single = new List<double>();
        var multi = new List<double>();
        for (int r = 0; r < options.Repetitions; r++)
        {
            long start = Stopwatch.GetTimestamp();
            long count = 0;
            foreach (string chunk in chunks) count += tokenizer.Encode(chunk).Length;
            single.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            tokens = count;

            start = Stopwatch.GetTimestamp();
            int[][] batch = tokenizer.EncodeBatch(chunks);
            multi.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            long batchCount = batch.Sum(b => (long)b.Length);
            if (batchCount != tokens) throw new InvalidOperationException($"batch gave {batchCount} tokens, sequential {tokens}");
        }
        Report(output, options, "encode, single-threaded", 1, bytes, tokens, single);
        Report(output, options, "encode_batch, multi-threaded", threads, bytes, tokens, multi);
    }

    private static void Report(TextWriter output, TokenizerBenchOptions options, string mode, int threads, long bytes, long tokens, List<double> seconds)
    {
        double median = Measure.Median(seconds);
        double mbps = bytes / 1e6 / median;
        if (options.Json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                library = "TokenFormer.Text", mode, threads, file = options.InputPath, bytes, tokens, reps = seconds.Count,
                median_s = median, mb_per_s = mbps, runs_s = seconds,
            }));
            return;
        }
        output.WriteLine($"{mode,-30} threads {threads,2}  {bytes / 1e6,8:F2} MB  {tokens,10} tokens  median {median,8:F3} s  {mbps,8:F2} MB/s");
    }

    /// <summary>Cuts text into chunks of about <paramref name="size"/> characters, each ending at a line end.</summary>
    public static string[] Chunk(string text, int size)
    {
        var chunks = new List<string>();
        for (int start = 0; start < text.Length;)
        {
            int end = Math.Min(text.Length, start + size);
            if (end < text.Length)
            {
                int nl = text.IndexOf('\n', end);
                end = nl < 0 ? text.Length : nl + 1;
            }
            chunks.Add(text[start..end]);
            start = end;
        }
        return chunks.ToArray();
    }
}
