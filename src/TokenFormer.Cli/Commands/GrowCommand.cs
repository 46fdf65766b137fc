using System.CommandLine;
using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer grow</c>: appends parameter tokens to every Pattention of a trained model (docs/architecture.md, Growth) and writes the
/// grown model directory (config.json with its growth lineage, model.safetensors, the source's tokenizer.json).
/// </summary>
public static class GrowCommand
{
    private const string Help =
        "Grow a trained model by appending parameter tokens to every Pattention (old tokens stay in the first rows; " +
        "embedding, depth, width and heads are unchanged). " +
        "--mode preserve (default): new key tokens 0, new value tokens N(0, (2/(L·√d))²), τ frozen at the old √n " +
        "(config pattention_scale_*): for l2_norm_gelu and gelu_l2_norm the grown model computes exactly the source's " +
        "function (logits equal up to float rounding); for softmax it does NOT — a zero key still gets softmax mass " +
        "(exp 0 = 1), so the old tokens' weights shrink and the new values enter the output. " +
        "--mode official: as the released code, new keys N(0, 0.02²) and values N(0, (2/(L·√d))²), τ = √(new n): " +
        "the function changes. When --from is a training checkpoint (or a run directory, or a grown model that has one), " +
        "its AdamW state is grown by the same rule (old moments in the first rows, new rows at zero moments, step " +
        "carried) into OUT/optimizer.safetensors together with the source run's learning-rate schedule. Continue with " +
        "'tokenformer train --init-from OUT', which by default trains on with the growth recipe: that AdamW state carried " +
        "and the source's schedule continued, decaying over the last fifth of the run when the source was still at a stable " +
        "rate — train S with '--schedule wsd --decay-steps 0' to grow it (docs/growth.md); --lr or --warmup start a new cosine instead.";

    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "Model directory, a checkpoint (RUN/checkpoints/step-N) or a run directory (its newest checkpoint)", Required = true };
        var output = new Option<string>("--out") { Description = "Directory for the grown model (must not already hold a model)", Required = true };
        var qkv = new Option<int?>("--qkv-tokens") { Description = "Tokens of each Q/K/V Pattention after growth (default: unchanged)" };
        var proj = new Option<int?>("--proj-tokens") { Description = "Tokens of the output-projection Pattention after growth (default: unchanged)" };
        var ffn = new Option<int?>("--ffn-tokens") { Description = "Tokens of the FFN Pattention after growth (default: unchanged)" };
        var factor = new Option<double?>("--factor") { Description = "Multiply every token count by F (> 1, rounded); instead of the --*-tokens options" };
        var mode = new Option<string>("--mode") { Description = "preserve (function-preserving, default) or official (random new rows, τ recomputed)", DefaultValueFactory = _ => "preserve" };
        mode.AcceptOnlyFromAmong("preserve", "official");
        var valueScale = new Option<double>("--new-value-scale")
        {
            Description = "Multiply the initial standard deviation of the new value tokens by F (> 0; default 1, the model's own init). " +
                "Small values keep the new tokens' first outputs small once their keys move off 0 (docs/growth.md)",
            DefaultValueFactory = _ => 1,
        };
        var seed = new Option<int>("--seed") { Description = "Seed of the new rows' random values (default 1234)", DefaultValueFactory = _ => 1234 };
        var cmd = new Command("grow", Help) { from, output, qkv, proj, ffn, factor, mode, valueScale, seed };
        cmd.SetAction(parse =>
        {
            string source = ResolveModelDirectory(parse.GetValue(from)!, "--from");
            string outDir = parse.GetValue(output)!;
            if (File.Exists(Path.Combine(outDir, ModelDirectory.WeightsFile)) || File.Exists(Path.Combine(outDir, ModelDirectory.ConfigFile)))
                throw new CliException($"{outDir} already holds a model ({ModelDirectory.ConfigFile} or {ModelDirectory.WeightsFile}); choose another --out");
            // a vision model (model_type tokenformer_vision) grows its blocks the same way (docs/vision.md, Growth)
            if (TokenFormer.Vision.VisionConfig.IsVisionConfig(Path.Combine(source, ModelDirectory.ConfigFile)))
                return VisionGrowCommand.Grow(source, outDir, parse.GetValue(qkv), parse.GetValue(proj), parse.GetValue(ffn), parse.GetValue(factor), parse.GetValue(mode)!, parse.GetValue(seed));
            TokenFormerModel model = LoadModel(source);
            TokenCounts old = TokenCounts.Of(model.Config);
            int? q = parse.GetValue(qkv), p = parse.GetValue(proj), f = parse.GetValue(ffn);
            double? scale = parse.GetValue(factor);
            TokenCounts target;
            if (scale is double s)
            {
                if (q != null || p != null || f != null)
                    throw new CliException("give either --factor or --qkv-tokens/--proj-tokens/--ffn-tokens, not both");
                if (!(s > 1) || !double.IsFinite(s)) throw new CliException($"--factor must be a number greater than 1 (got {s.ToString(CultureInfo.InvariantCulture)})");
                target = old.Scale(s);
            }
            else
            {
                if (q == null && p == null && f == null)
                    throw new CliException("give the new size: --factor F, or at least one of --qkv-tokens N, --proj-tokens N, --ffn-tokens N");
                foreach (var (value, name) in new[] { (q, "--qkv-tokens"), (p, "--proj-tokens"), (f, "--ffn-tokens") })
                    if (value is int v && v <= 0) throw new CliException($"{name} must be positive (got {v})");
                target = new TokenCounts(q ?? old.Qkv, p ?? old.Proj, f ?? old.Ffn);
            }
            TokenFormerModel grown;
            GrowthMode growthMode;
            try
            {
                growthMode = GrowthModes.Parse(parse.GetValue(mode)!);
                grown = ModelGrower.Grow(model, new GrowthOptions(target, growthMode, parse.GetValue(seed), Path.GetFullPath(source), parse.GetValue(valueScale)));
            }
            catch (GrowthException e) { throw new CliException(e.Field is { } field ? $"{OptionOf(field)}: {e.Message}" : e.Message); }

            string tokenizer = Path.Combine(source, DatasetMeta.TokenizerFile);
            SaveModelDirectory(grown, outDir, File.Exists(tokenizer) ? tokenizer : null);
            string carried = GrowOptimizerState(model, source, grown, outDir);
            long oldNe = TrainingFlops.NonEmbeddingParameters(model.Config), newNe = TrainingFlops.NonEmbeddingParameters(grown.Config);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"grew {source} ({old}; {model.Parameters.LongLength:N0} parameters, {oldNe:N0} non-embedding) to {outDir} " +
                $"({target}; {grown.Parameters.LongLength:N0} parameters, {newNe:N0} non-embedding, ×{(double)newNe / oldNe:F2}), mode {GrowthModes.Name(growthMode)}"));
            PattentionScales tau = PattentionScales.Of(grown.Config);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"τ: qkv {tau.Qkv:G6}, proj {tau.Proj:G6}, ffn {tau.Ffn:G6} ({(growthMode == GrowthMode.Preserve ? "frozen at the source's" : "√ of the new counts")})"));
            if (growthMode == GrowthMode.Preserve && model.Config.Activation == NormActivation.Softmax)
                Console.WriteLine("note: norm_activation_type softmax: zero new keys still receive softmax mass, so the grown model does not compute the source's function (docs/architecture.md, Growth)");
            Console.WriteLine(carried);
            if (!File.Exists(tokenizer))
                Console.Error.WriteLine($"warning: {tokenizer} not found; the grown model has no tokenizer.json");
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// Grows the source's AdamW state (its optimizer.safetensors, when there is one) into <paramref name="outDir"/>
    /// with the source run's schedule, and returns the line that says what was done.
    /// </summary>
    private static string GrowOptimizerState(TokenFormerModel model, string source, TokenFormerModel grown, string outDir)
    {
        if (!CarriedOptimizer.Exists(source))
            return $"optimizer state: {source} has none ({CarriedOptimizer.FileName}), so {outDir} has none; 'train --init-from' will start fresh moments (grow from a training checkpoint to carry them)";
        try
        {
            var sourceAdam = CarriedOptimizer.Load(model, source);
            SourceSchedule? schedule = CarriedOptimizer.ReadSchedule(source);
            var adam = ModelGrower.GrowOptimizer(model, sourceAdam, grown);
            CarriedOptimizer.Save(grown, adam, schedule, outDir);
            string recorded = schedule != null
                ? string.Create(CultureInfo.InvariantCulture, $"source schedule recorded (its next learning rate {schedule.FinalLearningRate:G4} at step {schedule.Step})")
                : "no source schedule found (no trainer_state.json)";
            string advice = schedule != null && schedule.FinalLearningRate < schedule.Peak
                ? string.Create(CultureInfo.InvariantCulture, $"; note: the source had decayed to {schedule.FinalLearningRate:G4}, so the grown model trains on at that rate (no loss rise, slower learning); for the fastest climb after growth train S with '--schedule wsd --decay-steps 0' (docs/growth.md)")
                : "";
            return $"optimizer state: AdamW moments grown into {Path.Combine(outDir, CarriedOptimizer.FileName)} (new rows at zero moments, step {adam.Step}); " +
                $"{recorded}; 'train --init-from {outDir}' carries it and continues the schedule{advice}";
        }
        catch (Exception e) when (e is InvalidDataException or GrowthException or ModelFormatException or IOException or TokenFormer.Core.SafeTensors.SafeTensorsFormatException)
        {
            throw new CliException($"--from {source}: its optimizer state could not be grown: {e.Message}");
        }
    }

    /// <summary>
    /// A model directory from <paramref name="path"/>: the folder itself when it holds config.json, else the newest
    /// complete checkpoint of a run directory. Errors name <paramref name="option"/> and the path.
    /// </summary>
    internal static string ResolveModelDirectory(string path, string option)
    {
        if (!Directory.Exists(path)) throw new CliException($"{option} {path}: directory not found");
        if (File.Exists(Path.Combine(path, ModelDirectory.ConfigFile))) return path;
        var latest = new CheckpointStore(path).Latest();
        if (latest is { } l) return l.Path;
        throw new CliException($"{option} {path}: neither a model directory ({ModelDirectory.ConfigFile} + {ModelDirectory.WeightsFile}) nor a run directory with a complete checkpoint");
    }

    /// <summary>Loads a model directory, errors as <see cref="CliException"/>.</summary>
    internal static TokenFormerModel LoadModel(string directory)
    {
        TokenFormerModel model;
        try { model = ModelDirectory.Load(directory); }
        catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException or GrowthException) { throw new CliException(e.Message); }
        // grow and train --init-from change the weights: they need the float32 model, not a quantized copy
        if (model.ReducedWeights != null)
            throw new CliException($"{directory} is stored in {Model.Architecture.WeightFormats.Name(model.ReducedWeights.Format)} (config.json weight_format) for inference only; " +
                "training and growth need float32 weights: use the float32 model it was quantized from");
        ConfigNotes.Print(model.Config);
        return model;
    }

    /// <summary>Writes a model directory (and a copy of <paramref name="tokenizer"/>), each file via a temporary file and rename.</summary>
    internal static void SaveModelDirectory(TokenFormerModel model, string directory, string? tokenizer)
    {
        ModelDirectory.Save(model, directory);
        if (tokenizer == null) return;
        OutputFolder.CopyFile(tokenizer, Path.Combine(directory, DatasetMeta.TokenizerFile));
    }

    /// <summary>The command-line option behind a <see cref="GrowthException.Field"/>.</summary>
    private static string OptionOf(string field) => field switch { "mode" => "--mode", "value-scale" => "--new-value-scale", _ => $"--{field}-tokens" };
}
