using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Training;
using TokenFormer.Runtime;
using TokenFormer.Text;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer eval</c>: mean next-token loss, perplexity and tokens/s of a model directory on a split of a
/// prepared data directory (<c>--data</c>) or on a raw text file encoded with the model's tokenizer.json
/// (<c>--text</c>), over consecutive non-overlapping windows.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory (config.json, model.safetensors, tokenizer.json), e.g. RUN/checkpoints/step-N", Required = true };
        var data = new Option<string?>("--data") { Description = "Data directory made by 'tokenformer prepare' (or use --text); with --task, the task's data file" };
        var text = new Option<string?>("--text") { Description = "Raw UTF-8 text file: perplexity with the model directory's tokenizer.json (instead of --data)" };
        var split = new Option<string>("--split") { Description = "Split to evaluate: val (default) or train", DefaultValueFactory = _ => "val" };
        split.AcceptOnlyFromAmong("val", "train");
        var seq = new Option<int?>("--seq") { Description = "Tokens per window (default: min(256, max_position_embeddings))" };
        var batch = new Option<int>("--batch") { Description = "Windows per forward pass (default 8); with a --task of choices, examples scored together (default 8: every weight is read once for eight examples; the scores do not depend on it)", DefaultValueFactory = _ => 8 };
        var maxWindows = new Option<int>("--max-windows") { Description = "Evaluate at most this many windows, evenly spaced (default 0: all)" };
        var task = new Option<string?>("--task") { Description = "Zero-shot task scored as lm-evaluation-harness does (docs/evaluation.md): " + string.Join(", ", EvalTaskRun.TaskNames) + "; --data is then its data file" };
        task.AcceptOnlyFromAmong([.. EvalTaskRun.TaskNames]);
        var limitOption = new Option<int>("--limit") { Description = "With --task: score only the first N examples (documents for perplexity; default 0: all)" };
        var adapterOption = AdapterCommands.AdapterOption();
        var json = new Option<bool>("--json") { Description = "With --task: print the metrics with standard errors as one JSON object" };
        var cmd = new Command("eval", "Evaluate a model on a prepared data split (--data) or a raw text file (--text): loss, perplexity, tokens/s; or on a zero-shot task (--task T --data FILE).")
        {
            model, data, text, split, seq, batch, maxWindows, task, limitOption, json, adapterOption,
        };
        cmd.SetAction(parse =>
        {
            string modelDir = parse.GetValue(model)!, splitName = parse.GetValue(split)!;
            string? dataOption = parse.GetValue(data), textFile = parse.GetValue(text), taskName = parse.GetValue(task);
            if (taskName != null && (dataOption == null || textFile != null))
                throw new CliException("--task needs --data FILE (the task's data file; docs/evaluation.md) and no --text");
            if (taskName == null && (parse.GetValue(limitOption) != 0 || parse.GetValue(json)))
                throw new CliException("--limit and --json go with --task");
            if ((dataOption == null) == (textFile == null)) throw new CliException("give either --data DIR (a prepared data directory) or --text FILE (raw text), not both and not neither");
            TokenFormerModel m;
            try { m = ModelDirectory.Load(modelDir); }
            catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException) { throw new CliException(e.Message); }
            ConfigNotes.Print(m.Config);
            m = AdapterCommands.Merged(m, modelDir, parse.GetValue(adapterOption));
            if (taskName != null) return EvalTaskRun.Run(m, modelDir, taskName, dataOption!, parse.GetValue(limitOption), parse.GetValue(json), parse.GetValue(batch));
            if (textFile != null) return EvaluateText(m, modelDir, textFile, parse.GetValue(seq), parse.GetValue(batch), parse.GetValue(maxWindows));
            string dataDir = dataOption!;
            using TokenDataset ds = TrainCommand.OpenSplit(dataDir, splitName);
            TrainCommand.CheckTokenizer(Path.Combine(modelDir, DatasetMeta.TokenizerFile), ds.Meta, dataDir, $"model {modelDir}", m.Vocab);
            int t = parse.GetValue(seq) ?? Math.Min(256, m.Config.MaxPositionEmbeddings);
            int b = parse.GetValue(batch);
            if (t <= 0 || t > m.Config.MaxPositionEmbeddings)
                throw new CliException($"--seq must be in [1, max_position_embeddings {m.Config.MaxPositionEmbeddings}] (got {t})");
            if (b <= 0) throw new CliException($"--batch must be positive (got {b})");
            if (ds.Count < t + 1)
                throw new CliException($"the {splitName} split of {dataDir} has {ds.Count} tokens, but one window needs --seq + 1 = {t + 1}; use a smaller --seq");
            int limit = parse.GetValue(maxWindows);
            long fit = (ds.Count - 1) / t;
            int count = (int)Math.Min(limit > 0 ? limit : int.MaxValue, Math.Min(fit, int.MaxValue));
            long[] starts = Evaluator.EvenlySpaced(ds.Count, t, count);
            var runner = new ModelRunner(m, b, t, training: false);
            var evaluator = new Evaluator(runner);
            var watch = Stopwatch.StartNew();
            (double loss, long tokens) = evaluator.Run(new TrainCommand.DatasetSource(ds), starts);
            double seconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{splitName}: {tokens:N0} tokens in {starts.Length:N0} windows of {t} | loss {loss:F4} | perplexity {Math.Exp(loss):F2} | {tokens / seconds:N0} tokens/s"));
            return 0;
        });
        return cmd;
    }

    private static readonly Dictionary<string, string> Flags = new() { ["Sequence"] = "--seq", ["Batch"] = "--batch", ["MaxWindows"] = "--max-windows" };

    /// <summary>
    /// Perplexity of a raw text file: encode with the model's tokenizer.json, then score non-overlapping windows with the
    /// library's <see cref="TextScorer"/> (what <see cref="LanguageModel.Score"/> computes).
    /// </summary>
    private static int EvaluateText(TokenFormerModel m, string modelDir, string textFile, int? seqOption, int b, int limit)
    {
        string tokPath = Path.Combine(modelDir, DatasetMeta.TokenizerFile);
        if (!File.Exists(tokPath))
            throw new CliException($"{tokPath}: file not found; --text needs the model's tokenizer.json in the model directory (tokenformer import copies it)");
        if (!File.Exists(textFile)) throw new CliException($"--text: file '{textFile}' not found");
        Tokenizer tok;
        try { tok = Tokenizer.Load(tokPath); }
        catch (TokenizerFormatException e) { throw new CliException(e.Message); }
        if (tok.VocabSize > m.Vocab)
            throw new CliException($"{tokPath} has {tok.VocabSize} ids but the model has only {m.Vocab} embedding rows");
        var encodeWatch = Stopwatch.StartNew();
        int[] ids = tok.Encode(File.ReadAllText(textFile));
        double encodeSeconds = encodeWatch.Elapsed.TotalSeconds;
        var watch = Stopwatch.StartNew();
        TextScore score;
        try { score = TextScorer.Score(m, ids, seqOption, b, limit); }
        catch (InvalidSettingException e) { throw LibraryErrors.ToCli(e, Flags); }
        catch (ArgumentException e) { throw new CliException($"{textFile}: {e.Message}"); }
        double seconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{textFile}: {ids.Length:N0} tokens ({encodeSeconds:F1} s to encode); scored {score.TokensScored:N0} in {score.Windows:N0} windows of {score.Sequence} | loss {score.Loss:F4} | perplexity {score.Perplexity:F2} | {score.TokensScored / seconds:N0} tokens/s"));
        return 0;
    }
}
