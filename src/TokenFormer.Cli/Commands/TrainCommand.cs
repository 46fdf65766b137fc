using System.CommandLine;
using System.Globalization;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Model.Distributed;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Optimizer;
using TokenFormer.Model.Training;
using TokenFormer.Text;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer train</c>: trains a TokenFormer on a prepared data directory (AdamW, warmup + cosine, clipping),
/// with validation, metrics.jsonl, loss.svg and atomic, exactly resumable checkpoints in RUN/checkpoints/step-N.
/// <c>--init-from</c> starts from an existing model: one made by <c>tokenformer grow</c> from a training checkpoint carries
/// that run's optimiser state and continues its schedule by default (the growth recipe), others start with a new schedule and
/// fresh optimiser state; <c>--schedule wsd</c> holds the peak rate (with <c>--decay-steps 0</c>: to the end, for a model to be grown);
/// <c>--freeze-old</c> trains only the rows the model's newest growth step added, <c>--old-lr-scale</c> trains the old
/// ones at a multiple of the learning rate (docs/growth.md).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Data directory made by 'tokenformer prepare'", Required = true };
        var preset = new Option<string?>("--preset") { Description = "Model size preset (see 'tokenformer presets'); the vocabulary comes from the data" };
        var config = new Option<string?>("--config") { Description = "config.json of the model-dir schema; vocab_size comes from the data's tokenizer" };
        var output = new Option<string>("--out") { Description = "Run directory (checkpoints/, metrics.jsonl, loss.svg)", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest complete checkpoint in --out" };
        var initFrom = new Option<string?>("--init-from") { Description = "Start from this model directory or run instead of --preset/--config. A model 'tokenformer grow' made from a training checkpoint trains on with the growth recipe by default (its AdamW state carried, its schedule continued: --schedule continue, --carry-optimizer; docs/growth.md); any other model starts with a new warmup + cosine schedule and fresh optimiser state" };
        var freezeOld = new Option<bool>("--freeze-old") { Description = "With --init-from a grown model: train only the token rows its newest growth step added (embedding, final norm and old rows stay bit-identical; no weight decay on them)" };
        var carry = new Option<bool>("--carry-optimizer")
        {
            Description = "With --init-from: start from the AdamW state stored beside the model (optimizer.safetensors, written by 'grow' " +
                "from a training checkpoint, or a checkpoint's own) instead of fresh moments: the source run's moments for every old " +
                "parameter, zero moments for the rows growth added, and its step count, so bias correction continues. The default for " +
                "a model 'grow' made from a training checkpoint (the growth recipe, docs/growth.md); --carry-optimizer false starts fresh",
        };
        var schedule = new Option<string?>("--schedule")
        {
            Description = "Learning-rate curve: cosine (the default from scratch: --warmup steps up to --lr, then cosine to --min-lr over --steps); " +
                "wsd (warmup-stable-decay: up to --lr, held there, cosine to --min-lr over the last --decay-steps; with --decay-steps 0 " +
                "it never decays, which is how to train a model you will grow); continue (the default with --init-from a model 'grow' " +
                "made from a training checkpoint: the source run's own curve continued from the step it stopped at, at its floor once " +
                "past its end; when the source was still at its stable rate (wsd) the run decays to --min-lr over its last --decay-steps; " +
                "--lr and --warmup do not apply, and giving either without --schedule asks for a new cosine instead); rewarm (with --init-from: --warmup steps up to the source " +
                "run's final learning rate, then cosine to --min-lr, default a tenth of that rate; --lr does not apply). " +
                "continue and rewarm read the source's schedule from optimizer.safetensors written by 'grow' or a checkpoint's trainer_state.json",
        };
        schedule.AcceptOnlyFromAmong("cosine", "wsd", "continue", "rewarm");
        var decaySteps = new Option<long?>("--decay-steps")
        {
            Description = "With --schedule wsd or continue: steps at the end of the run over which the rate decays to --min-lr " +
                "(default a fifth of --steps; for continue only when the source was still at its stable rate); 0 = no decay",
        };
        var oldLrScale = new Option<double?>("--old-lr-scale")
        {
            Description = "With --init-from a grown model: multiply the learning rate (and so the weight decay) of the parameters it had " +
                "before its newest growth step (embedding, final norm, old token rows) by F; 1 = like the new rows (default), " +
                "0 = they stay bit-identical (unlike --freeze-old their gradients still count in the clipping norm)",
        };
        var steps = new Option<long?>("--steps") { Description = "Optimiser steps of the whole run, the end of the cosine schedule (default 1000)" };
        var batch = new Option<int?>("--batch") { Description = "Sequences per micro-batch (default 8)" };
        var seq = new Option<int?>("--seq") { Description = "Tokens per sequence (default 256, at most max_position_embeddings)" };
        var accum = new Option<int?>("--grad-accum") { Description = "Micro-batches per optimiser step (default 1)" };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default 6e-4)" };
        var minLr = new Option<double?>("--min-lr") { Description = "Final learning rate of the cosine (default lr/10)" };
        var warmup = new Option<long?>("--warmup") { Description = "Linear warmup steps (default 1% of --steps, at least 1)" };
        var wd = new Option<double?>("--weight-decay") { Description = "Decoupled weight decay, all but the final LayerNorm (default 0.1)" };
        var clip = new Option<double?>("--clip") { Description = "Global gradient-norm clip, 0 = off (default 1.0)" };
        var seed = new Option<int?>("--seed") { Description = "Seed of the initialisation and the window sampler (default 1234)" };
        var evalWindows = new Option<int?>("--eval-windows") { Description = "Validation windows per evaluation, a fixed evenly spaced set (default 32)" };
        var evalEvery = new Option<long>("--eval-every") { Description = "Evaluate every N steps, 0 = never (default 100)", DefaultValueFactory = _ => 100 };
        var saveEvery = new Option<long>("--save-every") { Description = "Checkpoint every N steps; the last step is always saved (default 500)", DefaultValueFactory = _ => 500 };
        var keepLast = new Option<int>("--keep-last") { Description = "Keep the newest K checkpoints, 0 = all (default 3)", DefaultValueFactory = _ => 3 };
        var stopAt = new Option<long>("--stop-at") { Description = "End this invocation after step N with a checkpoint (continue later with --resume)" };
        var shard = new Option<bool>("--shard-optimizer")
        {
            Description = "Under mpirun/srun: shard the AdamW state over the ranks (ZeRO stage 1: reduce-scatter of the gradients, each rank " +
                "updates its slice of moments and weights, all-gather of the weights); checkpoints keep the ordinary format",
        };
        var bucketMb = new Option<double>("--bucket-mb")
        {
            Description = "Under mpirun/srun: gradient bucket size in MB reduced while the backward pass runs on earlier layers; 0 = one allreduce after the backward (default 4)",
            DefaultValueFactory = _ => 4,
        };
        var logEvery = new Option<long>("--log-every") { Description = "Log line interval when output is not a terminal (default 10)", DefaultValueFactory = _ => 10 };
        var cmd = new Command("train", "Train a TokenFormer on prepared token streams, with evaluation, metrics, a loss curve and resumable checkpoints.")
        {
            data, preset, config, output, resume, initFrom, freezeOld, carry, schedule, decaySteps, oldLrScale, steps, batch, seq, accum, lr, minLr, warmup, wd, clip, seed, evalWindows,
            evalEvery, saveEvery, keepLast, stopAt, logEvery, shard, bucketMb,
        };
        cmd.SetAction(parse => DistributedRun.Run(comm =>
        {
            string dataDir = parse.GetValue(data)!, runDir = parse.GetValue(output)!;
            if (parse.GetValue(bucketMb) is var mb && !(mb >= 0 && mb <= 1024))
                throw new CliException($"--bucket-mb must be between 0 and 1024 (got {mb.ToString(CultureInfo.InvariantCulture)})");
            if (comm.Size > 1)
                RunAgreement.Check(comm, StartupFields(parse, dataDir, runDir, parse.GetValue(resume), parse.GetValue(preset), parse.GetValue(config), parse.GetValue(initFrom)));
            using TokenDataset train = OpenSplit(dataDir, "train");
            using TokenDataset val = OpenSplit(dataDir, "val");
            string tokenizerPath = Path.Combine(dataDir, DatasetMeta.TokenizerFile);
            CheckTokenizer(tokenizerPath, train.Meta, dataDir, "the data directory's own", null);
            var scheduling = new TrainingOptions
            {
                EvalEvery = parse.GetValue(evalEvery), SaveEvery = parse.GetValue(saveEvery), KeepLast = parse.GetValue(keepLast),
                StopAt = parse.GetValue(stopAt), LogEvery = parse.GetValue(logEvery),
            };
            using var interrupt = new CtrlCInterrupt("saving a checkpoint after this step");
            var context = new TrainerContext
            {
                ExtraFiles = [tokenizerPath], TokenizerHash = train.Meta.TokenizerHash, Output = Console.Out,
                Interactive = !Console.IsOutputRedirected, Stop = interrupt.Token,
                Communicator = comm, ShardOptimizer = parse.GetValue(shard), BucketFloats = (int)(parse.GetValue(bucketMb) * (1 << 20) / sizeof(float)),
            };
            Trainer trainer;
            try
            {
                if (parse.GetValue(resume))
                {
                    CheckFreezeOnResume(runDir, parse.GetResult(freezeOld) is { Implicit: false } ? parse.GetValue(freezeOld) : null);
                    CheckGrowthOnResume(runDir, parse.GetValue(schedule), parse.GetValue(carry));
                    CheckResumable(runDir, train.Meta, parse, comm.Size, (batch, "--batch"), (seq, "--seq"), (accum, "--grad-accum"), (lr, "--lr"), (minLr, "--min-lr"), (decaySteps, "--decay-steps"),
                        (warmup, "--warmup"), (wd, "--weight-decay"), (clip, "--clip"), (seed, "--seed"), (evalWindows, "--eval-windows"), (oldLrScale, "--old-lr-scale"));
                    CheckResumeModel(runDir, parse.GetValue(preset), parse.GetValue(config), parse.GetValue(initFrom), train.Meta.VocabSize);
                    trainer = Trainer.Resume(runDir, scheduling, parse.GetValue(steps), new DatasetSource(train), new DatasetSource(val), context);
                }
                else
                {
                    string? initDir = parse.GetValue(initFrom);
                    TokenFormerModel? initial = null;
                    TokenFormerConfig cfg;
                    if (initDir != null)
                    {
                        if (parse.GetValue(preset) != null || parse.GetValue(config) != null)
                            throw new CliException("--init-from takes the model from that directory; leave out --preset and --config");
                        initDir = GrowCommand.ResolveModelDirectory(initDir, "--init-from");
                        initial = GrowCommand.LoadModel(initDir);
                        CheckInitTokenizer(initDir, initial.Vocab, train.Meta, dataDir);
                        cfg = initial.Config;
                    }
                    else
                    {
                        if (parse.GetValue(freezeOld))
                            throw new CliException("--freeze-old needs --init-from a grown model (it freezes the rows the model had before its newest growth step)");
                        if (parse.GetValue(carry))
                            throw new CliException("--carry-optimizer needs --init-from (it carries the optimiser state stored beside that model)");
                        if (parse.GetValue(schedule) is "continue" or "rewarm")
                            throw new CliException($"--schedule {parse.GetValue(schedule)} needs --init-from (it follows the schedule of the run that model came from)");
                        if (parse.GetValue(oldLrScale) is double scaleGiven && scaleGiven != 1)
                            throw new CliException("--old-lr-scale needs --init-from a grown model (it scales the learning rate of the parameters the model had before its newest growth step)");
                        cfg = LoadConfig(parse.GetValue(preset), parse.GetValue(config), train.Meta.VocabSize);
                    }
                    long total = parse.GetValue(steps) ?? 1000;
                    // the growth recipe (docs/growth.md) is the default for a model 'grow' made from a training checkpoint: its
                    // AdamW state carried and its schedule continued, unless the user asks for a new curve (--lr, --warmup) or says otherwise
                    SourceSchedule? recorded = initDir != null && GrowthLineage.Last(cfg) != null && CarriedOptimizer.Exists(initDir) ? TryReadSourceSchedule(initDir) : null;
                    bool recipe = recorded != null;
                    bool newCurve = parse.GetValue(lr) != null || parse.GetValue(warmup) != null;
                    ScheduleKind kind = ScheduleKinds.Parse(parse.GetValue(schedule) ?? (recipe && !newCurve ? "continue" : "cosine"));
                    bool carryState = parse.GetResult(carry) is { Implicit: false } ? parse.GetValue(carry) : recipe && kind != ScheduleKind.Cosine;
                    SourceSchedule? source = kind is ScheduleKind.Continue or ScheduleKind.Rewarm ? ReadSourceSchedule(initDir!, kind, recorded) : null;
                    if (source != null && parse.GetValue(lr) != null)
                        throw new CliException($"--lr does not apply to --schedule {ScheduleKinds.Name(kind)} (its peak is the source run's); leave it out or use --schedule cosine or wsd");
                    if (kind == ScheduleKind.Continue && parse.GetValue(warmup) != null)
                        throw new CliException("--warmup does not apply to --schedule continue (it follows the source run's curve); leave it out");
                    if (parse.GetValue(decaySteps) != null && kind is not (ScheduleKind.Wsd or ScheduleKind.Continue))
                        throw new CliException($"--decay-steps applies to --schedule wsd and continue; --schedule {ScheduleKinds.Name(kind)} decays over the whole run");
                    // the stored peak is the one in force: the source's for continue, its final rate for rewarm
                    double peak = source == null ? parse.GetValue(lr) ?? 6e-4 : kind == ScheduleKind.Continue ? source.Peak : source.FinalLearningRate;
                    // a continued curve decays from the source's current rate, so its default floor is a tenth of that
                    double floor = kind == ScheduleKind.Continue ? source!.FinalLearningRate / 10 : peak / 10;
                    AdamW? carried = carryState ? LoadCarried(initial!, initDir!) : null;
                    TrainingOptions options = scheduling with
                    {
                        Steps = total, Batch = parse.GetValue(batch) ?? 8,
                        Sequence = parse.GetValue(seq) ?? Math.Min(256, cfg.MaxPositionEmbeddings),
                        GradAccum = parse.GetValue(accum) ?? 1, LearningRate = peak, MinLearningRate = parse.GetValue(minLr) ?? floor,
                        Warmup = parse.GetValue(warmup) ?? Math.Max(1, total / 100), WeightDecay = parse.GetValue(wd) ?? 0.1,
                        Clip = parse.GetValue(clip) ?? 1.0, Seed = parse.GetValue(seed) ?? 1234, EvalWindows = parse.GetValue(evalWindows) ?? 32,
                        FreezeOld = parse.GetValue(freezeOld), Schedule = kind, SourceSchedule = source, DecaySteps = parse.GetValue(decaySteps),
                        OldLearningRateScale = parse.GetValue(oldLrScale) ?? 1,
                    };
                    if (kind == ScheduleKind.Continue && parse.GetValue(minLr) != null && LearningRateSchedule.DecayStepsOf(options) == 0)
                        throw new CliException("--min-lr does not apply to --schedule continue here: the source run's curve had already begun to decay, so the run follows it to the source's floor; leave it out");
                    if (initial != null)
                    {
                        trainer = Trainer.StartFrom(initial, options, new DatasetSource(train), new DatasetSource(val), runDir, context, Path.GetFullPath(initDir!), carried);
                        GrowthStage? stage = GrowthLineage.Last(cfg);
                        Console.WriteLine($"initialised from {initDir}" + (stage != null
                            ? $" (grown {stage.Mode} from {stage.OldTokens} to {stage.NewTokens})" : "") +
                            $"; schedule {ScheduleKinds.Name(kind)}" + string.Create(CultureInfo.InvariantCulture,
                                $" (learning rate {trainer.Schedule.At(0):G4} at the first update, {trainer.Schedule.At(Math.Min(options.Warmup, total)):G4} at step {Math.Min(options.Warmup, total)}, {trainer.Schedule.At(total):G4} at the end)") +
                            (carried != null ? $"; carried optimiser state (AdamW step {carried.Step})" : "; fresh optimiser state") +
                            (options.OldLearningRateScale != 1 ? string.Create(CultureInfo.InvariantCulture, $"; old parameters at {options.OldLearningRateScale:G4} × the learning rate") : "") +
                            (trainer.Frozen is { } fz ? string.Create(CultureInfo.InvariantCulture, $"; --freeze-old: {fz.Count:N0} old parameters frozen, {trainer.Model.Parameters.LongLength - fz.Count:N0} train") : ""));
                    }
                    else trainer = Trainer.Start(cfg, options, new DatasetSource(train), new DatasetSource(val), runDir, context);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"model: {trainer.Model.Parameters.LongLength:N0} parameters (L{cfg.NumLayers} d{cfg.HiddenSize}, vocab {cfg.Vocab}); " +
                        $"data: {train.Count:N0} train / {val.Count:N0} val tokens; {options.Steps} steps of {options.Batch}×{options.Sequence}×{options.GradAccum} tokens; " +
                        $"{Parallelism.ThreadCount} threads"));
                }
            }
            catch (Exception e) when (e is ArgumentException or ModelFormatException or TokenFormerConfigException or InvalidDataException or GrowthException)
            {
                throw LibraryErrors.ToCli(e, LibraryErrors.TrainFlags);
            }
            if (trainer.DataParallel is { } dp)
            {
                long[] floats = dp.OptimizerFloatsPerRank(trainer.OptimizerState);
                long full = 2 * trainer.Model.Parameters.LongLength;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"data parallel: {dp.Size} ranks × {trainer.Options.Batch} windows × {trainer.Options.GradAccum} micro-batches = global batch {(long)dp.Size * trainer.Options.Batch * trainer.Options.GradAccum} windows; {comm.Description}"));
                string perRank = string.Join(", ", floats.Select((f, r) => string.Create(CultureInfo.InvariantCulture, $"rank {r} {f:N0} floats ({f * 4 / 1048576.0:F2} MB, {100.0 * f / full:F1} %)")));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"AdamW state per rank ({(dp.Sharded ? "sharded" : "replicated")}): {perRank} of the full {full:N0} floats ({full * 4 / 1048576.0:F2} MB)"));
            }
            using (trainer)
            {
                TrainingResult result;
                try { result = trainer.Run(); }
                catch (TrainingDivergedException e) { throw LibraryErrors.ToCli(e); }
                Console.WriteLine((
                    $"{(result.Finished ? "finished" : "stopped")} at step {result.Step}: loss {result.LastLoss:F4}" +
                    (result.LastValLoss is double v ? $", val_loss {v:F4}, val_ppl {Math.Exp(v):F2}" : "") +
                    (result.LastCheckpoint != null ? $"; checkpoint {result.LastCheckpoint}" : "")));
                if (!result.Finished && interrupt.Requested) Console.WriteLine("continue with --resume");
            }
            return 0;
        }));
        return cmd;
    }

    private static TokenFormerConfig LoadConfig(string? preset, string? configPath, int vocab)
    {
        if ((preset == null) == (configPath == null)) throw new CliException("give exactly one of --preset NAME or --config FILE (or --resume)");
        TokenFormerConfig cfg;
        try { cfg = preset != null ? TokenFormerPresets.Get(preset) : TokenFormerConfig.Load(configPath!); }
        catch (TokenFormerConfigException e) { throw new CliException(e.Message); }
        ConfigNotes.Print(cfg, Console.Out);
        if (cfg.VocabSize is int v && v != vocab && configPath != null)
            Console.WriteLine($"note: {configPath} says vocab_size {v}; using the data tokenizer's {vocab}");
        cfg.VocabSize = vocab;
        return cfg;
    }

    /// <summary>
    /// --init-from: the model's tokenizer.json must be the data's (by hash) and the model's embedding must have exactly
    /// the data tokenizer's vocabulary; a model directory without tokenizer.json is checked by vocabulary size only.
    /// </summary>
    private static void CheckInitTokenizer(string modelDir, int modelVocab, DatasetMeta meta, string dataDir)
    {
        string path = Path.Combine(modelDir, DatasetMeta.TokenizerFile);
        if (modelVocab != meta.VocabSize)
            throw new CliException($"--init-from {modelDir}: the model's embedding has {modelVocab} rows (vocab_size) but {dataDir} was prepared with a " +
                $"{meta.VocabSize}-id tokenizer; prepare the data with the model's tokenizer ({path})");
        CheckTokenizer(path, meta, dataDir, $"--init-from {modelDir}:", modelVocab);
    }

    /// <summary>
    /// On --resume the model comes from the checkpoint, but the command line the run was started with may be given
    /// again: a --preset or --config must describe the checkpoint's model (else the first differing field is named),
    /// and an --init-from must name the model the run started from.
    /// </summary>
    private static void CheckResumeModel(string runDir, string? presetName, string? configPath, string? initDir, int vocab)
    {
        if (presetName == null && configPath == null && initDir == null) return;
        if (initDir != null && (presetName != null || configPath != null))
            throw new CliException("--init-from takes the model from that directory; leave out --preset and --config");
        var latest = new CheckpointStore(runDir).Latest()
            ?? throw new CliException($"--resume: {runDir} holds no complete checkpoint");
        if (initDir != null)
        {
            TrainerState state;
            try { state = TrainerState.Load(Path.Combine(latest.Path, TrainerState.FileName)); }
            catch (InvalidDataException e) { throw new CliException(e.Message); }
            string resolved = Path.GetFullPath(GrowCommand.ResolveModelDirectory(initDir, "--init-from"));
            if (state.InitFrom != resolved)
                throw new CliException($"--resume: --init-from {initDir} ({resolved}) is not the model this run started from " +
                    $"({state.InitFrom ?? "it started from --preset or --config"}); leave --init-from out (a resumed run continues from its checkpoint {latest.Path})");
            return;
        }
        TokenFormerConfig given = LoadConfig(presetName, configPath, vocab);
        string storedPath = Path.Combine(latest.Path, ModelDirectory.ConfigFile);
        TokenFormerConfig stored;
        try { stored = TokenFormerConfig.Load(storedPath); }
        catch (TokenFormerConfigException e) { throw new CliException(e.Message); }
        if (given.FirstDifference(stored) is var (field, mine, theirs))
        {
            string what = presetName != null ? $"--preset {presetName}" : $"--config {configPath}";
            throw new CliException($"--resume: {what} differs from the checkpoint's model in {field}: {mine} given, {theirs} in {storedPath}; " +
                $"leave {(presetName != null ? "--preset" : "--config")} out or give the one the run was started with (a resumed run keeps its model)");
        }
    }

    /// <summary>The source run's schedule the --init-from model records, or null (unreadable files are reported later, by the reader that needs them).</summary>
    private static SourceSchedule? TryReadSourceSchedule(string initDir)
    {
        try { return CarriedOptimizer.ReadSchedule(initDir); }
        catch (Exception e) when (e is InvalidDataException or IOException or TokenFormer.Core.SafeTensors.SafeTensorsFormatException) { return null; }
    }

    /// <summary>
    /// The source run's schedule stored with the --init-from model, required by <paramref name="kind"/>; <paramref name="alreadyRead"/>
    /// is used when the caller has read it, otherwise the file is read here and its errors reported.
    /// </summary>
    private static SourceSchedule ReadSourceSchedule(string initDir, ScheduleKind kind, SourceSchedule? alreadyRead)
    {
        SourceSchedule? source = alreadyRead;
        try { source ??= CarriedOptimizer.ReadSchedule(initDir); }
        catch (Exception e) when (e is InvalidDataException or IOException or TokenFormer.Core.SafeTensors.SafeTensorsFormatException) { throw new CliException($"--schedule {ScheduleKinds.Name(kind)}: {e.Message}"); }
        if (source == null)
            throw new CliException($"--schedule {ScheduleKinds.Name(kind)}: --init-from {initDir} records no source schedule (neither {CarriedOptimizer.FileName} " +
                $"with '{CarriedOptimizer.ScheduleKey}' from 'tokenformer grow --from CHECKPOINT' nor a checkpoint's {TrainerState.FileName}); grow from a training checkpoint or use --schedule cosine");
        if (kind == ScheduleKind.Rewarm && !(source.FinalLearningRate > 0))
            throw new CliException($"--schedule rewarm: the source run's final learning rate is {source.FinalLearningRate.ToString(CultureInfo.InvariantCulture)}; rewarm needs a positive one (use --schedule cosine)");
        return source;
    }

    /// <summary>--carry-optimizer: the AdamW state stored beside the --init-from model.</summary>
    private static AdamW LoadCarried(TokenFormerModel model, string initDir)
    {
        try { return CarriedOptimizer.Load(model, initDir); }
        catch (FileNotFoundException)
        {
            throw new CliException($"--carry-optimizer: --init-from {initDir} has no {CarriedOptimizer.FileName}; 'tokenformer grow' writes one when --from is a training checkpoint or run directory, and checkpoints hold their own");
        }
        catch (Exception e) when (e is InvalidDataException or IOException or TokenFormer.Core.SafeTensors.SafeTensorsFormatException)
        {
            throw new CliException($"--carry-optimizer: {e.Message}");
        }
    }

    /// <summary>On --resume, an explicit --schedule or --carry-optimizer must agree with the checkpoint's settings.</summary>
    private static void CheckGrowthOnResume(string runDir, string? schedule, bool carry)
    {
        if (schedule == null && !carry) return;
        var latest = new CheckpointStore(runDir).Latest();
        if (latest == null) return; // reported by CheckResumable
        TrainerState state;
        try { state = TrainerState.Load(Path.Combine(latest.Value.Path, TrainerState.FileName)); }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
        if (schedule != null && schedule != state.Schedule)
            throw new CliException($"--resume: --schedule {schedule} differs from the checkpoint's {state.Schedule} ({latest.Value.Path}); leave it out (a resumed run keeps its settings)");
        if (carry && !state.CarryOptimizer)
            throw new CliException($"--resume: --carry-optimizer given but the run {runDir} started with fresh optimiser state; leave it out (a resumed run continues from its checkpoint's optimiser state)");
    }

    /// <summary>On --resume, an explicit --freeze-old must agree with the checkpoint's setting.</summary>
    private static void CheckFreezeOnResume(string runDir, bool? given)
    {
        if (given is not bool g) return;
        var latest = new CheckpointStore(runDir).Latest();
        if (latest == null) return; // reported by CheckResumable
        TrainerState state;
        try { state = TrainerState.Load(Path.Combine(latest.Value.Path, TrainerState.FileName)); }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
        if (state.FreezeOld != g)
            throw new CliException($"--resume: --freeze-old {(g ? "given" : "false")} but the checkpoint {latest.Value.Path} was trained with freeze_old {state.FreezeOld.ToString().ToLowerInvariant()}; leave it out (a resumed run keeps its settings)");
    }

    private static void CheckResumable(string runDir, DatasetMeta meta, ParseResult parse, int ranks, params (Option Option, string Name)[] fixedOptions)
    {
        var store = new CheckpointStore(runDir);
        var latest = store.Latest() ?? throw new CliException($"--resume: {runDir} holds no complete checkpoint (looked in {store.Directory})");
        TrainerState state;
        try { state = TrainerState.Load(Path.Combine(latest.Path, TrainerState.FileName)); }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
        if (state.TokenizerHash != null && state.TokenizerHash != meta.TokenizerHash)
            throw new CliException($"--resume: the checkpoint {latest.Path} was trained on data from tokenizer {state.TokenizerHash[..12]}…, " +
                $"but --data was prepared with tokenizer {meta.TokenizerHash[..12]}…; use the same data directory");
        if (state.TrainTokens != 0 && state.TrainTokens != meta.TrainTokens)
            Console.WriteLine($"note: the checkpoint's train split had {state.TrainTokens:N0} tokens and --data has {meta.TrainTokens:N0}; " +
                "the run continues on the new data (windows will differ from an uninterrupted run)");
        // the per-rank batch that keeps the checkpoint's global batch on this many ranks (elastic resume)
        int perRank = state.BatchFor(ranks) ?? throw new CliException(
            $"--resume: the checkpoint {latest.Path} has a global batch of {state.Batch} × {state.Ranks} rank(s) = {(long)state.Batch * state.Ranks} windows, which {ranks} rank(s) cannot share evenly; resume on a number of ranks that divides it");
        TrainingOptions stored = state.ToOptions(new TrainingOptions()) with { Batch = perRank };
        foreach (var (option, name) in fixedOptions)
        {
            object? given = parse.GetResult(option) is { Implicit: false } r ? r.GetValueOrDefault<object?>() : null;
            if (given == null) continue;
            object storedValue = name switch
            {
                "--batch" => stored.Batch, "--seq" => stored.Sequence, "--grad-accum" => stored.GradAccum, "--lr" => stored.LearningRate,
                "--min-lr" => stored.MinLearningRate, "--warmup" => stored.Warmup, "--weight-decay" => stored.WeightDecay, "--clip" => stored.Clip,
                "--seed" => stored.Seed, "--eval-windows" => stored.EvalWindows, "--old-lr-scale" => stored.OldLearningRateScale, _ => throw new InvalidOperationException(name),
            };
            if (!Equals(Convert.ToDouble(given, CultureInfo.InvariantCulture), Convert.ToDouble(storedValue, CultureInfo.InvariantCulture)))
                throw new CliException($"--resume: {name} {given} differs from the checkpoint's {storedValue}; leave it out (a resumed run keeps its settings)");
        }
    }

    /// <summary>
    /// What a rank of a data-parallel job was started with, compared across ranks before training (<see cref="RunAgreement"/>):
    /// the tool's version, the data (meta.json and the token streams), the model (preset, config file, --init-from
    /// model, or the checkpoint resumed from) and the remaining command line (--threads may differ).
    /// </summary>
    private static List<(string, string)> StartupFields(ParseResult parse, string dataDir, string runDir, bool resume, string? preset, string? config, string? initFrom)
    {
        string model = resume
            ? new CheckpointStore(runDir).Latest() is { } latest ? $"checkpoint {latest.Path}: " + DistributedRun.FileFingerprint(Path.Combine(latest.Path, TrainerState.FileName)) : "no checkpoint"
            : initFrom != null ? $"--init-from {initFrom}: " + DistributedRun.FileFingerprint(Path.Combine(initFrom, ModelDirectory.WeightsFile))
            : config != null ? $"--config {config}: " + DistributedRun.FileFingerprint(config)
            : $"--preset {preset}";
        var rest = new List<string>();
        var tokens = parse.Tokens.Select(t => t.Value).ToList();
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] is "--threads" or "--data" or "--config" or "--init-from") { i++; continue; }
            rest.Add(tokens[i]);
        }
        return
        [
            ("version", DistributedRun.Version()),
            ("data meta.json", DistributedRun.FileFingerprint(Path.Combine(dataDir, "meta.json"))),
            ("data train.bin", DistributedRun.FileFingerprint(Path.Combine(dataDir, "train.bin"))),
            ("data val.bin", DistributedRun.FileFingerprint(Path.Combine(dataDir, "val.bin"))),
            ("model", model),
            ("options", string.Join(' ', rest)),
        ];
    }

    /// <summary>Opens a split with errors as <see cref="CliException"/>.</summary>
    internal static TokenDataset OpenSplit(string dataDir, string split)
    {
        try { return TokenDataset.Open(dataDir, split); }
        catch (DataFormatException e) { throw new CliException(e.Message); }
    }

    /// <summary>
    /// Checks that <paramref name="tokenizerPath"/> is the tokenizer the data was prepared with (by content hash).
    /// A model directory without tokenizer.json is accepted when its vocabulary covers the data's ids.
    /// </summary>
    internal static void CheckTokenizer(string tokenizerPath, DatasetMeta meta, string dataDir, string what, int? modelVocab)
    {
        if (!File.Exists(tokenizerPath))
        {
            if (modelVocab is int v)
            {
                if (meta.VocabSize > v)
                    throw new CliException($"{dataDir} was prepared with a {meta.VocabSize}-id tokenizer but the model has only {v} embedding rows");
                Console.Error.WriteLine($"warning: {tokenizerPath} not found; cannot check that the model uses the data's tokenizer");
                return;
            }
            throw new CliException($"{tokenizerPath}: file not found (a data directory holds the tokenizer it was prepared with)");
        }
        string hash;
        try { hash = Tokenizer.Load(tokenizerPath).ContentHash; }
        catch (TokenizerFormatException e) { throw new CliException(e.Message); }
        if (hash != meta.TokenizerHash)
            throw new CliException($"{what} tokenizer {tokenizerPath} (hash {hash[..12]}…) is not the tokenizer {dataDir} was prepared with " +
                $"(meta.json tokenizer_hash {meta.TokenizerHash[..Math.Min(12, meta.TokenizerHash.Length)]}…); prepare the data with the model's tokenizer");
        if (modelVocab is int mv && meta.VocabSize > mv)
            throw new CliException($"{dataDir} has a {meta.VocabSize}-id vocabulary but the model has only {mv} embedding rows");
    }

    /// <summary>A memory-mapped split as the trainer's token source.</summary>
    internal sealed class DatasetSource(TokenDataset dataset) : ITokenSource
    {
        public long Count => dataset.Count;
        public void CopyTo(long start, Span<int> destination) => dataset.CopyTo(start, destination);
    }
}
