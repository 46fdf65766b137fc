using System.CommandLine;
using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Adapters;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Inference;
using TokenFormer.Model.Training;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// Adapters made of parameter tokens (docs/adapters.md): <c>tokenformer finetune</c> trains one on a frozen base,
/// <c>tokenformer merge</c> writes the base with the adapter's rows appended, and <c>--adapter DIR</c> of generate,
/// eval, forward (and serve) applies one.
/// </summary>
public static class AdapterCommands
{
    /// <summary>The --adapter option of generate, eval and forward.</summary>
    public static Option<string?> AdapterOption() => new("--adapter")
    {
        Description = "Adapter directory made by 'tokenformer finetune' for this base (--model): adapter.safetensors + adapter_config.json; refused when it was made for another base",
    };

    /// <summary>Loads an adapter directory, errors as <see cref="CliException"/>.</summary>
    public static Adapter Load(string directory)
    {
        try { return Adapter.Load(directory); }
        catch (AdapterFormatException e) { throw new CliException($"--adapter: {e.Message}"); }
    }

    /// <summary>
    /// <paramref name="baseModel"/> with the adapter of <paramref name="adapterDir"/> merged in (its rows appended), or the
    /// base itself when none is given; another base is refused naming both hashes.
    /// </summary>
    public static TokenFormerModel Merged(TokenFormerModel baseModel, string baseDir, string? adapterDir)
    {
        if (adapterDir == null) return baseModel;
        Adapter adapter = Load(adapterDir);
        try { return adapter.Merge(baseModel, baseDir); }
        catch (Exception e) when (e is AdapterFormatException or GrowthException) { throw new CliException($"--adapter {adapterDir}: {e.Message}"); }
    }

    /// <summary>
    /// Serves the adapter of <paramref name="adapterDir"/> on <paramref name="generator"/>'s base (the shared-base path of
    /// <see cref="AdapterBank"/>): every slot is bound to it.
    /// </summary>
    public static void Apply(Generator generator, string baseDir, string adapterDir)
    {
        Adapter adapter = Load(adapterDir);
        try
        {
            var bank = new AdapterBank(generator.Model);
            bank.Add(adapter, adapterDir, baseDir);
            bank.SetAll(generator.MaxBatch, 0);
            generator.Runner.Adapters = bank;
        }
        catch (AdapterFormatException e) { throw new CliException($"--adapter {adapterDir}: {e.Message}"); }
    }

    /// <summary><c>tokenformer merge</c>.</summary>
    public static Command Merge()
    {
        var model = new Option<string>("--model") { Description = "Base model directory", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "Adapter directory made by 'tokenformer finetune' for that base", Required = true };
        var output = new Option<string>("--out") { Description = "Directory for the merged model (must not already hold a model)", Required = true };
        var cmd = new Command("merge", "Write a plain model directory: the base with the adapter's key/value rows appended to its Pattentions " +
            "(τ kept at the base's, so it computes exactly what the base with the adapter applied does).") { model, adapter, output };
        cmd.SetAction(parse =>
        {
            string baseDir = GrowCommand.ResolveModelDirectory(parse.GetValue(model)!, "--model"), outDir = parse.GetValue(output)!;
            if (File.Exists(Path.Combine(outDir, ModelDirectory.WeightsFile)) || File.Exists(Path.Combine(outDir, ModelDirectory.ConfigFile)))
                throw new CliException($"{outDir} already holds a model ({ModelDirectory.ConfigFile} or {ModelDirectory.WeightsFile}); choose another --out");
            TokenFormerModel baseModel = GrowCommand.LoadModel(baseDir);
            TokenFormerModel merged = Merged(baseModel, baseDir, parse.GetValue(adapter)!);
            ModelDirectory.Save(merged, outDir);
            string tokenizer = Path.Combine(baseDir, DatasetMeta.TokenizerFile);
            if (File.Exists(tokenizer)) TokenFormer.Core.IO.AtomicFile.WriteAllBytes(Path.Combine(outDir, DatasetMeta.TokenizerFile), File.ReadAllBytes(tokenizer));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"merged {parse.GetValue(adapter)} into {baseDir}: {TokenCounts.Of(baseModel.Config)} → {TokenCounts.Of(merged.Config)} tokens, {merged.Parameters.LongLength:N0} parameters; wrote {outDir}"));
            return 0;
        });
        return cmd;
    }

    /// <summary><c>tokenformer finetune</c>.</summary>
    public static Command Finetune()
    {
        var from = new Option<string>("--from") { Description = "Base model directory (or a run directory: its newest checkpoint); it stays frozen", Required = true };
        var tokens = new Option<int?>("--adapter-tokens") { Description = "K: key/value tokens appended to each chosen Pattention (required for a new adapter)" };
        var projections = new Option<string>("--projections") { Description = "Which Pattentions get K tokens: a comma-separated subset of qkv, proj, ffn (default qkv,proj,ffn)", DefaultValueFactory = _ => "qkv,proj,ffn" };
        var data = new Option<string>("--data") { Description = "Data directory made by 'tokenformer prepare' with the base's tokenizer", Required = true };
        var output = new Option<string>("--out") { Description = "Adapter directory to write (adapter.safetensors, adapter_config.json)", Required = true };
        var runOption = new Option<string?>("--run") { Description = "Run directory for checkpoints, metrics.jsonl and loss.svg (default: OUT.run)" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest complete checkpoint in the run directory" };
        var steps = new Option<long?>("--steps") { Description = "Optimiser steps of the whole run (default 1000)" };
        var batch = new Option<int?>("--batch") { Description = "Sequences per micro-batch (default 8)" };
        var seq = new Option<int?>("--seq") { Description = "Tokens per sequence (default 256, at most max_position_embeddings)" };
        var accum = new Option<int?>("--grad-accum") { Description = "Micro-batches per optimiser step (default 1)" };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default 6e-4)" };
        var minLr = new Option<double?>("--min-lr") { Description = "Final learning rate of the cosine (default lr/10)" };
        var warmup = new Option<long?>("--warmup") { Description = "Linear warmup steps (default 1% of --steps, at least 1)" };
        var wd = new Option<double?>("--weight-decay") { Description = "Decoupled weight decay of the adapter rows (default 0.1; the base never changes)" };
        var clip = new Option<double?>("--clip") { Description = "Global gradient-norm clip over the adapter rows, 0 = off (default 1.0)" };
        var seed = new Option<int?>("--seed") { Description = "Seed of the new value rows and the window sampler (default 1234)" };
        var valueScale = new Option<double>("--new-value-scale") { Description = "Multiple of the value init standard deviation for the new value rows (default 1)", DefaultValueFactory = _ => 1 };
        var evalWindows = new Option<int?>("--eval-windows") { Description = "Validation windows per evaluation (default 32)" };
        var evalEvery = new Option<long>("--eval-every") { Description = "Evaluate every N steps, 0 = never (default 100)", DefaultValueFactory = _ => 100 };
        var saveEvery = new Option<long>("--save-every") { Description = "Checkpoint every N steps; the last step is always saved (default 500)", DefaultValueFactory = _ => 500 };
        var keepLast = new Option<int>("--keep-last") { Description = "Keep the newest K checkpoints, 0 = all (default 3)", DefaultValueFactory = _ => 3 };
        var stopAt = new Option<long>("--stop-at") { Description = "End this invocation after step N with a checkpoint (continue later with --resume)" };
        var logEvery = new Option<long>("--log-every") { Description = "Log line interval when output is not a terminal (default 10)", DefaultValueFactory = _ => 10 };
        var cmd = new Command("finetune", "Train an adapter: K new key/value tokens appended to each chosen Pattention of a frozen base (zero keys, drawn values, " +
            "τ kept, so step 0 is exactly the base), trained with train's schedule, checkpoints and exact resume; OUT holds only the new rows, " +
            "their config and the base's identity (docs/adapters.md).")
        {
            from, tokens, projections, data, output, runOption, resume, steps, batch, seq, accum, lr, minLr, warmup, wd, clip, seed, valueScale,
            evalWindows, evalEvery, saveEvery, keepLast, stopAt, logEvery,
        };
        cmd.SetAction(parse =>
        {
            string outDir = parse.GetValue(output)!, dataDir = parse.GetValue(data)!;
            string runDir = parse.GetValue(runOption) ?? Path.TrimEndingDirectorySeparator(outDir) + ".run";
            string baseDir = GrowCommand.ResolveModelDirectory(parse.GetValue(from)!, "--from");
            using TokenDataset train = TrainCommand.OpenSplit(dataDir, "train");
            using TokenDataset val = TrainCommand.OpenSplit(dataDir, "val");
            string tokenizerPath = Path.Combine(dataDir, DatasetMeta.TokenizerFile);
            var scheduling = new TrainingOptions
            {
                EvalEvery = parse.GetValue(evalEvery), SaveEvery = parse.GetValue(saveEvery), KeepLast = parse.GetValue(keepLast),
                StopAt = parse.GetValue(stopAt), LogEvery = parse.GetValue(logEvery),
            };
            using var interrupt = new CtrlCInterrupt("saving a checkpoint and the adapter after this step");
            var context = new TrainerContext
            {
                ExtraFiles = [tokenizerPath], TokenizerHash = train.Meta.TokenizerHash, Output = Console.Out,
                Interactive = !Console.IsOutputRedirected, Stop = interrupt.Token,
            };
            string configPath = Path.Combine(outDir, AdapterConfig.FileName);
            AdapterConfig config;
            Trainer trainer;
            try
            {
                if (parse.GetValue(resume))
                {
                    if (!File.Exists(configPath)) throw new CliException($"--resume: {configPath} not found (the adapter a finetune run writes at its start)");
                    config = AdapterConfig.Load(configPath);
                    if (parse.GetValue(tokens) is int k && Adapter.CountsFor(parse.GetValue(projections)!.Split(','), k) != config.Tokens)
                        throw new CliException($"--resume: --adapter-tokens/--projections differ from the run's {config.Tokens} ({configPath}); leave them out");
                    trainer = Trainer.Resume(runDir, scheduling, parse.GetValue(steps), new TrainCommand.DatasetSource(train), new TrainCommand.DatasetSource(val), context);
                }
                else
                {
                    int k = parse.GetValue(tokens) ?? throw new CliException("--adapter-tokens K is required for a new adapter (or pass --resume)");
                    if (k < 1) throw new CliException($"--adapter-tokens must be at least 1 (got {k})");
                    TokenCounts counts;
                    try { counts = Adapter.CountsFor(parse.GetValue(projections)!.Split(','), k); }
                    catch (ArgumentException e) { throw new CliException($"--projections: {e.Message}"); }
                    if (File.Exists(configPath))
                        throw new CliException($"{outDir} already holds an adapter ({AdapterConfig.FileName}); choose another --out or pass --resume");
                    TokenFormerModel baseModel = GrowCommand.LoadModel(baseDir);
                    TrainCommand.CheckTokenizer(Path.Combine(baseDir, DatasetMeta.TokenizerFile), train.Meta, dataDir, $"--from {baseDir}:", baseModel.Vocab);
                    if (baseModel.Vocab != train.Meta.VocabSize)
                        throw new CliException($"--from {baseDir}: the model has {baseModel.Vocab} embedding rows but {dataDir} was prepared with a {train.Meta.VocabSize}-id tokenizer; prepare the data with the base's tokenizer");
                    int seedValue = parse.GetValue(seed) ?? 1234;
                    config = Adapter.Describe(baseModel, counts, seedValue, parse.GetValue(valueScale));
                    TokenFormerModel merged = Adapter.StartMerged(baseModel, config, Path.GetFullPath(baseDir));
                    long total = parse.GetValue(steps) ?? 1000;
                    double peak = parse.GetValue(lr) ?? 6e-4;
                    TrainingOptions options = scheduling with
                    {
                        Steps = total, Batch = parse.GetValue(batch) ?? 8, Sequence = parse.GetValue(seq) ?? Math.Min(256, baseModel.Config.MaxPositionEmbeddings),
                        GradAccum = parse.GetValue(accum) ?? 1, LearningRate = peak, MinLearningRate = parse.GetValue(minLr) ?? peak / 10,
                        Warmup = parse.GetValue(warmup) ?? Math.Max(1, total / 100), WeightDecay = parse.GetValue(wd) ?? 0.1,
                        Clip = parse.GetValue(clip) ?? 1.0, Seed = seedValue, EvalWindows = parse.GetValue(evalWindows) ?? 32, FreezeOld = true,
                    };
                    trainer = Trainer.StartFrom(merged, options, new TrainCommand.DatasetSource(train), new TrainCommand.DatasetSource(val), runDir, context, Path.GetFullPath(baseDir));
                    // the adapter as initialised (it computes the base's function) is written first: OUT holds the config a resume reads
                    Adapter.Extract(merged, config, 0).Save(outDir);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"adapter: {config.Tokens} tokens per Pattention ({string.Join(',', config.Projections)}), {Adapter.Extract(merged, config, 0).ParameterCount:N0} trainable parameters " +
                        $"of {merged.Parameters.LongLength:N0}; base {baseDir} (sha256 {config.BaseSha256[..16]}…) frozen; checkpoints in {runDir}"));
                }
            }
            catch (Exception e) when (e is ArgumentException or ModelFormatException or TokenFormerConfigException or InvalidDataException or GrowthException or AdapterFormatException)
            {
                throw LibraryErrors.ToCli(e, LibraryErrors.TrainFlags);
            }
            using (trainer)
            {
                TrainingResult result;
                try { result = trainer.Run(); }
                catch (TrainingDivergedException e) { throw LibraryErrors.ToCli(e); }
                Adapter trained;
                try { trained = Adapter.Extract(trainer.Model, config, result.Step); }
                catch (AdapterFormatException e) { throw new CliException(e.Message); }
                trained.Save(outDir);
                Console.WriteLine(
                    $"{(result.Finished ? "finished" : "stopped")} at step {result.Step}: loss {result.LastLoss.ToString("F4", CultureInfo.InvariantCulture)}" +
                    (result.LastValLoss is double v ? $", val_loss {v.ToString("F4", CultureInfo.InvariantCulture)}" : "") +
                    $"; adapter written to {outDir}" + (result.Finished ? "" : " (continue with --resume)"));
            }
            return 0;
        });
        return cmd;
    }
}
