using System.CommandLine;
using System.Diagnostics;
using System.Text;
using TokenFormer.Bench;
using TokenFormer.Text;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// Tokenizer verbs: <c>tokenformer tokenizer train|info|bench</c>, <c>tokenformer tokenize</c> and
/// <c>tokenformer detokenize</c>. <see cref="Register"/> adds all three top-level commands.
/// </summary>
public static class TokenizerCommand
{
    /// <summary>Adds <c>tokenizer</c>, <c>tokenize</c> and <c>detokenize</c> to <paramref name="root"/>.</summary>
    public static void Register(Command root)
    {
        root.Subcommands.Add(Create());
        root.Subcommands.Add(CreateTokenize());
        root.Subcommands.Add(CreateDetokenize());
    }

    /// <summary><c>tokenformer tokenizer …</c>: train, inspect and benchmark byte-level BPE tokenizers.</summary>
    public static Command Create()
    {
        var cmd = new Command("tokenizer", "Train, inspect and benchmark byte-level BPE tokenizers (Hugging Face tokenizer.json).");
        cmd.Subcommands.Add(CreateTrain());
        cmd.Subcommands.Add(CreateInfo());
        cmd.Subcommands.Add(CreateBench());
        return cmd;
    }

    private static Command CreateTrain()
    {
        var input = new Option<string[]>("--input")
        {
            Description = "UTF-8 text file(s) to train on", Required = true, AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Vocabulary size, special tokens and the 256 byte tokens included (default 4096, the vocabulary of the micro, tiny and quickstart models)", DefaultValueFactory = _ => 4096 };
        var output = new Option<string>("--out") { Description = "Path of the tokenizer.json to write", Required = true };
        var minFrequency = new Option<long>("--min-frequency") { Description = "Do not merge pairs seen fewer times (default 0)" };
        var special = new Option<string[]>("--special-tokens")
        {
            Description = $"Special tokens, given ids 0, 1, … (default: {Tokenizer.EndOfTextToken})",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [Tokenizer.EndOfTextToken],
        };
        var prefix = new Option<bool>("--add-prefix-space") { Description = "ByteLevel add_prefix_space (default false, like GPT-2)" };
        var cmd = new Command("train", "Train a byte-level BPE (Hugging Face BpeTrainer semantics, deterministic) and save it as tokenizer.json.")
        {
            input, vocabSize, output, minFrequency, special, prefix,
        };
        cmd.SetAction(parse =>
        {
            string[] files = parse.GetValue(input)!;
            foreach (string f in files)
                if (!File.Exists(f)) throw new CliException($"--input: file '{f}' not found");
            int size = parse.GetValue(vocabSize);
            if (size < 257) throw new CliException($"--vocab-size must be at least 257 (256 byte tokens + 1), got {size}");
            long minFreq = parse.GetValue(minFrequency);
            if (minFreq < 0) throw new CliException($"--min-frequency must be at least 0, got {minFreq}");
            var options = new BpeTrainerOptions
            {
                VocabSize = size, MinFrequency = minFreq, SpecialTokens = parse.GetValue(special) ?? [],
                AddPrefixSpace = parse.GetValue(prefix),
            };
            string outPath = parse.GetValue(output)!;
            var watch = Stopwatch.StartNew();
            var trainer = new BpeTrainer(options);
            long chars = 0;
            foreach (string f in files)
            {
                trainer.AddFile(f);
                chars += new FileInfo(f).Length;
            }
            double countSeconds = watch.Elapsed.TotalSeconds;
            Tokenizer tokenizer = trainer.Train();
            double totalSeconds = watch.Elapsed.TotalSeconds;
            tokenizer.Save(outPath);
            Console.Error.WriteLine(
                $"trained {tokenizer.VocabSize} tokens ({tokenizer.Model.MergeList.Count} merges) from {chars / 1e6:F2} MB, " +
                $"{trainer.DistinctWords} distinct words in {totalSeconds:F2} s (counting {countSeconds:F2} s, merging {totalSeconds - countSeconds:F2} s); " +
                $"wrote {outPath} (sha256 {tokenizer.ContentHash})");
            return 0;
        });
        return cmd;
    }

    private static Command CreateInfo()
    {
        var tokenizerPath = TokenizerOption();
        var cmd = new Command("info", "Print a tokenizer's vocabulary size, special tokens and content hash.") { tokenizerPath };
        cmd.SetAction(parse =>
        {
            Tokenizer t = LoadTokenizer(parse.GetValue(tokenizerPath)!);
            Console.WriteLine($"vocab_size: {t.VocabSize}");
            Console.WriteLine($"merges: {t.Model.MergeList.Count}");
            Console.WriteLine($"normalizer: {(t.Normalizers.Count == 0 ? "none" : string.Join(", ", t.Normalizers.Select(n => n.Name)))}");
            Console.WriteLine($"add_prefix_space: {t.PreTokenizer.AddPrefixSpace.ToString().ToLowerInvariant()}");
            Console.WriteLine($"endoftext_id: {(t.EndOfTextId is int id ? id.ToString() : "none")}");
            Console.WriteLine($"added_tokens: {t.AddedTokens.Count} ({t.AddedTokens.Count(a => a.Special)} special)");
            Console.WriteLine($"sha256: {t.ContentHash}");
            return 0;
        });
        return cmd;
    }

    private static Command CreateBench()
    {
        var tokenizerPath = TokenizerOption();
        var input = new Option<string>("--input") { Description = "Text file to encode (at least 10 MB for the documented figures)", Required = true };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions (median reported; at least 3)", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per measurement" };
        var cmd = new Command("bench",
            "Encode throughput in MB/s on a file cut into 64 KiB chunks at line ends: single-threaded and multi-threaded " +
            "(compare with tools/reference/tokenizer/make-fixtures.js bench, which times Hugging Face the same way).")
        {
            tokenizerPath, input, reps, json,
        };
        cmd.SetAction(parse =>
        {
            string tok = parse.GetValue(tokenizerPath)!, file = parse.GetValue(input)!;
            if (!File.Exists(tok)) throw new CliException($"--tokenizer: file '{tok}' not found");
            if (!File.Exists(file)) throw new CliException($"--input: file '{file}' not found");
            int r = parse.GetValue(reps);
            if (r < 3) throw new CliException($"--reps must be at least 3 (got {r})");
            try
            {
                TokenizerBenchmark.Run(new TokenizerBenchOptions { TokenizerPath = tok, InputPath = file, Repetitions = r, Json = parse.GetValue(json) }, Console.Out);
            }
            catch (TokenizerFormatException e)
            {
                throw new CliException(e.Message);
            }
            return 0;
        });
        return cmd;
    }

    /// <summary><c>tokenformer tokenize</c>: text → ids.</summary>
    public static Command CreateTokenize()
    {
        var tokenizerPath = TokenizerOption();
        var text = new Option<string?>("--text") { Description = "Text to encode" };
        var input = new Option<string?>("--input") { Description = "UTF-8 file to encode (invalid bytes become U+FFFD)" };
        var json = new Option<bool>("--json")
        {
            Description = "Print JSON arrays; with --input, each line of the file (without its \\n or \\r\\n) is encoded on its own and printed as one array per line",
        };
        var cmd = new Command("tokenize", "Encode text into token ids (space-separated, or JSON with --json).") { tokenizerPath, text, input, json };
        cmd.SetAction(parse =>
        {
            string? s = parse.GetValue(text), file = parse.GetValue(input);
            if ((s is null) == (file is null)) throw new CliException("give exactly one of --text or --input");
            Tokenizer t = LoadTokenizer(parse.GetValue(tokenizerPath)!);
            bool asJson = parse.GetValue(json);
            TextWriter stdout = Console.Out;
            if (file is not null)
            {
                if (!File.Exists(file)) throw new CliException($"--input: file '{file}' not found");
                s = File.ReadAllText(file, new UTF8Encoding(false, false));
                if (asJson)
                {
                    string[] lines = SplitLines(s);
                    var sb = new StringBuilder();
                    foreach (int[] ids in t.EncodeBatch(lines)) sb.Append('[').AppendJoin(',', ids).Append("]\n");
                    stdout.Write(sb.ToString());
                    return 0;
                }
            }
            int[] all = t.Encode(s!);
            stdout.WriteLine(asJson ? "[" + string.Join(',', all) + "]" : string.Join(' ', all));
            return 0;
        });
        return cmd;
    }

    /// <summary><c>tokenformer detokenize</c>: ids → text.</summary>
    public static Command CreateDetokenize()
    {
        var tokenizerPath = TokenizerOption();
        var ids = new Option<string[]>("--ids")
        {
            Description = "Token ids: separate arguments, or one argument with ids separated by spaces or commas (a JSON array works)",
            Required = true, AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore,
        };
        var skipSpecial = new Option<bool>("--skip-special-tokens") { Description = "Leave special tokens out of the text" };
        var cmd = new Command("detokenize", "Decode token ids into text (written as UTF-8 without a trailing newline).") { tokenizerPath, ids, skipSpecial };
        cmd.SetAction(parse =>
        {
            Tokenizer t = LoadTokenizer(parse.GetValue(tokenizerPath)!);
            var list = new List<int>();
            foreach (string arg in parse.GetValue(ids)!)
            {
                foreach (string part in arg.Split([' ', ',', '[', ']', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!int.TryParse(part, out int id))
                        throw new CliException($"--ids: '{part}' is not an integer token id");
                    if (t.IdToToken(id) is null)
                        throw new CliException($"--ids: token id {id} is not in the vocabulary (ids are 0 to {t.VocabSize - 1})");
                    list.Add(id);
                }
            }
            string decoded = t.Decode(list.ToArray(), parse.GetValue(skipSpecial));
            using Stream stdout = Console.OpenStandardOutput();
            stdout.Write(Encoding.UTF8.GetBytes(decoded));
            return 0;
        });
        return cmd;
    }

    /// <summary>Lines without their terminators ('\n' or "\r\n"); a final terminator does not start an extra line.</summary>
    internal static string[] SplitLines(string text)
    {
        var lines = new List<string>();
        int start = 0;
        while (start < text.Length)
        {
            int nl = text.IndexOf('\n', start);
            if (nl < 0)
            {
                lines.Add(text[start..]);
                break;
            }
            int end = nl > start && text[nl - 1] == '\r' ? nl - 1 : nl;
            lines.Add(text[start..end]);
            start = nl + 1;
        }
        return lines.ToArray();
    }

    private static Option<string> TokenizerOption() =>
        new("--tokenizer") { Description = "Path of a tokenizer.json (byte-level BPE)", Required = true };

    private static Tokenizer LoadTokenizer(string path)
    {
        if (!File.Exists(path)) throw new CliException($"--tokenizer: file '{path}' not found");
        try
        {
            return Tokenizer.Load(path);
        }
        catch (TokenizerFormatException e)
        {
            throw new CliException(e.Message);
        }
    }
}
