using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Training;
using TokenFormer.Text;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer eval</c>: mean next-token loss, perplexity and tokens/s of a model directory on a split of a
/// prepared data directory, over consecutive non-overlapping windows.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory (config.json, model.safetensors, tokenizer.json), e.g. RUN/checkpoints/step-N", Required = true };
        var data = new Option<string>("--data") { Description = "Data directory made by 'tokenformer prepare'", Required = true };
        var split = new Option<string>("--split") { Description = "Split to evaluate: val (default) or train", DefaultValueFactory = _ => "val" };
        split.AcceptOnlyFromAmong("val", "train");
        var seq = new Option<int?>("--seq") { Description = "Tokens per window (default: min(256, max_position_embeddings))" };
        var batch = new Option<int>("--batch") { Description = "Windows per forward pass (default 8)", DefaultValueFactory = _ => 8 };
        var maxWindows = new Option<int>("--max-windows") { Description = "Evaluate at most this many windows, evenly spaced (default 0: all)" };
        var cmd = new Command("eval", "Evaluate a model on a prepared data split: loss, perplexity, tokens/s.")
        {
            model, data, split, seq, batch, maxWindows,
        };
        cmd.SetAction(parse =>
        {
            string modelDir = parse.GetValue(model)!, dataDir = parse.GetValue(data)!, splitName = parse.GetValue(split)!;
            TokenFormerModel m;
            try { m = ModelDirectory.Load(modelDir); }
            catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException) { throw new CliException(e.Message); }
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
}
