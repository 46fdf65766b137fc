using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TokenFormer.Text;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer prepare</c>: tokenises .txt / .jsonl / .gz text into a data directory (train.bin, val.bin, meta.json,
/// tokenizer.json) for <c>tokenformer train</c> and <c>tokenformer eval</c>.
/// </summary>
public static class PrepareCommand
{
    public static Command Create()
    {
        var tokenizer = new Option<string>("--tokenizer") { Description = "tokenizer.json to encode with (must have <|endoftext|>)", Required = true };
        var input = new Option<string[]>("--input")
        {
            Description = "Input files or directories: .txt, .jsonl (field \"text\"), .txt.gz, .jsonl.gz", Required = true,
            AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--out") { Description = "Data directory to write", Required = true };
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction for validation: of the documents, evenly spaced; of the tokens (the last share, at least one 257-token evaluation window) when the documents would give validation less than that, e.g. one big .txt file (default 0.005)", DefaultValueFactory = _ => 0.005 };
        var boundary = new Option<string>("--boundary")
        {
            Description = "Documents in .txt files: 'file' (each file is one document) or 'blank-line' (blank lines separate documents)",
            DefaultValueFactory = _ => "file",
        };
        boundary.AcceptOnlyFromAmong("file", "blank-line");
        var cmd = new Command("prepare", "Tokenise text into train/validation token streams (uint16/uint32) and meta.json for training.")
        {
            tokenizer, input, output, valFraction, boundary,
        };
        cmd.SetAction(parse =>
        {
            string tokPath = parse.GetValue(tokenizer)!;
            if (!File.Exists(tokPath)) throw new CliException($"--tokenizer: file '{tokPath}' not found");
            Tokenizer tok;
            try { tok = Tokenizer.Load(tokPath); }
            catch (TokenizerFormatException e) { throw new CliException(e.Message); }
            double fraction = parse.GetValue(valFraction);
            if (!(fraction >= 0 && fraction < 1)) throw new CliException($"--val-fraction must be in [0, 1) (got {fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
            var options = new PrepareOptions
            {
                Inputs = parse.GetValue(input)!,
                OutputDirectory = parse.GetValue(output)!,
                ValFraction = parse.GetValue(valFraction),
                Boundary = parse.GetValue(boundary) == "blank-line" ? DocumentBoundary.BlankLine : DocumentBoundary.File,
            };
            bool interactive = !Console.IsOutputRedirected;
            var lastPrint = Stopwatch.StartNew();
            var watch = Stopwatch.StartNew();
            DatasetMeta meta;
            try
            {
                meta = DataPreparer.Run(tok, options, p =>
                {
                    if (!interactive && lastPrint.Elapsed.TotalSeconds < 5) return;
                    lastPrint.Restart();
                    double mb = p.BytesRead / 1e6, rate = mb / Math.Max(1e-9, p.Elapsed.TotalSeconds);
                    double pct = p.TotalBytes > 0 ? 100.0 * p.BytesRead / p.TotalBytes : 100;
                    string eta = rate > 0 ? ProgressEta((p.TotalBytes - p.BytesRead) / 1e6 / rate) : "--";
                    string line = string.Create(CultureInfo.InvariantCulture,
                        $"prepare: {pct:F1}% | {mb:F1}/{p.TotalBytes / 1e6:F1} MB | {rate:F1} MB/s | {p.Tokens:N0} tokens | {p.Documents:N0} documents | ETA {eta}");
                    if (interactive) Console.Write("\r" + line.PadRight(110));
                    else Console.WriteLine(line);
                });
            }
            catch (DataFormatException e) { throw new CliException(e.Message); }
            catch (IOException e) { throw new CliException(e.Message); }
            if (interactive) Console.WriteLine();
            double seconds = watch.Elapsed.TotalSeconds;
            using var proc = Process.GetCurrentProcess();
            proc.Refresh();
            Console.WriteLine((
                $"wrote {options.OutputDirectory}: train {meta.TrainTokens:N0} tokens ({meta.TrainDocuments:N0} documents), " +
                $"val {meta.ValTokens:N0} tokens ({meta.ValDocuments:N0} documents{(meta.ValTailTokens > 0 ? $" + the last {meta.ValTailTokens:N0} tokens of the training stream" : "")}), {meta.DType}, vocab {meta.VocabSize}" +
                (meta.EmptyDocuments > 0 ? $", {meta.EmptyDocuments} empty document(s) skipped" : "")));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{meta.InputBytes / 1e6:F1} MB in {seconds:F1} s ({meta.InputBytes / 1e6 / seconds:F1} MB/s), peak RSS {proc.PeakWorkingSet64 / 1e6:F0} MB"));
            if (meta.ValSplit == "tokens")
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"note: validation held out by tokens: the document split gave validation {meta.ValTokens - meta.ValTailTokens:N0} tokens " +
                    $"({meta.ValDocuments:N0} of {meta.TrainDocuments + meta.ValDocuments:N0} documents{(options.Boundary == DocumentBoundary.File ? "; with --boundary file each file is one document" : "")}), " +
                    $"less than one evaluation window ({options.MinValidationTokens} tokens), so the last {meta.ValTailTokens:N0} tokens of the training stream " +
                    $"({100.0 * meta.ValTailTokens / (meta.TrainTokens + meta.ValTokens):F1} % of all) were moved to validation"));
            else if (meta.ValTokens == 0)
                Console.WriteLine("note: the validation split is empty (too few documents for --val-fraction); train with --eval-every 0 or prepare with a larger fraction");
            return 0;
        });
        return cmd;
    }

    private static string ProgressEta(double seconds) =>
        double.IsFinite(seconds) && seconds >= 0 ? TimeSpan.FromSeconds(Math.Round(seconds)).ToString() : "--";
}
