using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TokenFormer.Core.PyTorch;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Import;
using TokenFormer.Text;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer import</c>: converts an officially released TokenFormer checkpoint (<c>pytorch_model.bin</c>, read
/// without executing its pickle) into a model directory (config.json, model.safetensors, tokenizer.json).
/// </summary>
public static class ImportCommand
{
    private const string Help = """
        Import an officially released TokenFormer checkpoint (pytorch_model.bin) into a model directory.

        The released models (Haiyang-W/TokenFormer-150M, -450M, -900M, -1-5B on the Hugging Face Hub) are PyTorch
        state dicts. This reads them safely (a restricted unpickler: no code in the file is ever run), checks every
        key and shape against the config, widens fp16/bf16 to fp32 and writes config.json, model.safetensors and
        tokenizer.json (each written to a temporary file, then renamed).

        Examples:
          huggingface-cli download Haiyang-W/TokenFormer-150M --local-dir TokenFormer-150M
          tokenformer import --from TokenFormer-150M --out models/150m
          tokenformer import --from pytorch_model.bin --preset 150m --tokenizer tokenizer.json --out models/150m
          tokenformer import --from pytorch_model.bin --config 150M_eval.yml --out models/150m
          tokenformer eval --model models/150m --text some.txt

        The config comes from --config (config.json or an official configs/tokenformer/*.yml), else --preset, else
        the config.json beside the checkpoint. The tokenizer comes from --tokenizer, else the tokenizer.json beside it.
        """;

    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "A release folder (config.json, pytorch_model.bin, tokenizer.json) or a pytorch_model.bin file", Required = true };
        var preset = new Option<string?>("--preset") { Description = "Official size when there is no config: 150m, 450m, 900m or 1.5b" };
        var config = new Option<string?>("--config") { Description = "Config file: a release config.json or an official NeoX YAML (configs/tokenformer/*.yml)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.json to copy into the model directory (default: the one beside the checkpoint)" };
        var output = new Option<string>("--out") { Description = "Model directory to write", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite a model directory that already holds model.safetensors" };
        var dtype = new Option<string>("--dtype") { Description = "Weight format to write: float32 (default), bf16, int8 or int4 (docs/quantization.md); converted tensor by tensor, never a whole float32 copy in memory", DefaultValueFactory = _ => "float32" };
        var cmd = new Command("import", Help) { from, preset, config, tokenizer, output, force, dtype };
        cmd.SetAction(parse => Run(parse.GetValue(from)!, parse.GetValue(preset), parse.GetValue(config), parse.GetValue(tokenizer),
            parse.GetValue(output)!, parse.GetValue(force),
            WeightFormats.TryParse(parse.GetValue(dtype), out WeightFormat f) ? f
                : throw new CliException($"--dtype '{parse.GetValue(dtype)}' is not one of {string.Join(", ", WeightFormats.Names)}")));
        return cmd;
    }

    private static int Run(string from, string? presetName, string? configPath, string? tokenizerPath, string outDir, bool force, WeightFormat format)
    {
        var watch = Stopwatch.StartNew();
        string bin, folder;
        if (Directory.Exists(from))
        {
            folder = from;
            bin = Path.Combine(from, "pytorch_model.bin");
            if (!File.Exists(bin))
                throw new CliException($"{from}: no pytorch_model.bin in this folder (found: {string.Join(", ", Directory.GetFiles(from).Select(Path.GetFileName).Take(12))}); give --from the checkpoint file");
        }
        else if (File.Exists(from))
        {
            bin = from;
            folder = Path.GetDirectoryName(Path.GetFullPath(from))!;
        }
        else throw new CliException($"--from: '{from}' is neither a folder nor a file");
        if (presetName != null && configPath != null) throw new CliException("give either --preset or --config, not both");
        string besideConfig = Path.Combine(folder, "config.json");
        string besideTokenizer = Path.Combine(folder, "tokenizer.json");
        if (tokenizerPath != null && !File.Exists(tokenizerPath)) throw new CliException($"--tokenizer: file '{tokenizerPath}' not found");
        string? tokPath = tokenizerPath ?? (File.Exists(besideTokenizer) ? besideTokenizer : null);
        if (File.Exists(Path.Combine(outDir, ModelDirectory.WeightsFile)) && !force)
            throw new CliException($"{outDir} already holds a model ({ModelDirectory.WeightsFile}); choose another --out or add --force");

        using TorchCheckpoint ckpt = OpenCheckpoint(bin);
        TokenFormerConfig cfg;
        string configSource;
        try
        {
            if (configPath != null) { cfg = OfficialConfigReader.Load(configPath); configSource = configPath; }
            else if (presetName != null)
            {
                cfg = TokenFormerPresets.Get(presetName);
                cfg.VocabSize = null;
                configSource = $"preset {presetName}";
            }
            else if (File.Exists(besideConfig)) { cfg = OfficialConfigReader.Load(besideConfig); configSource = besideConfig; }
            else
            {
                string? match = OfficialCheckpointImporter.MatchPreset(ckpt);
                throw new CliException($"no config: {besideConfig} does not exist; give --config FILE or --preset NAME"
                    + (match != null ? $" (the checkpoint's shapes match --preset {match})" : $". {OfficialCheckpointImporter.Describe(ckpt)}"));
            }
        }
        catch (TokenFormerConfigException e) { throw new CliException(e.Message); }

        // the tokenizer (~0.2 s to parse for GPT-NeoX) is validated on another thread while the weights are read
        Task<Tokenizer>? tokTask = tokPath == null ? null : Task.Run(() => Tokenizer.Load(tokPath));

        OfficialCheckpointImporter.Plan plan;
        try { plan = OfficialCheckpointImporter.Check(ckpt, cfg); }
        catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException) { throw new CliException($"{e.Message} (config: {configSource})"); }
        double checkSeconds = watch.Elapsed.TotalSeconds;

        void CheckTokenizer()
        {
            if (tokTask == null) return;
            Tokenizer tok;
            try { tok = tokTask.GetAwaiter().GetResult(); }
            catch (TokenizerFormatException e) { throw new CliException(e.Message); }
            if (tok.VocabSize > plan.Config.Vocab)
                throw new CliException($"{tokPath} has {tok.VocabSize} ids but the checkpoint's embedding has only {plan.Config.Vocab} rows; this is not the model's tokenizer");
        }

        ImportedModelWriter.Result written = default!;
        try
        {
            OutputFolder.Write(outDir, () =>
            {
                written = format == WeightFormat.Float32 ? ImportedModelWriter.Write(ckpt, plan, outDir, CheckTokenizer)
                    : ReducedPrecisionImport.Write(ckpt, plan, format, outDir, CheckTokenizer);
                if (tokPath != null)
                {
                    string target = Path.Combine(outDir, "tokenizer.json");
                    if (Path.GetFullPath(tokPath) != Path.GetFullPath(target)) OutputFolder.CopyFile(tokPath, target);
                }
            });
        }
        catch (PyTorchFormatException e) { throw new CliException(e.Message); }
        catch (ArgumentException e) when (format != WeightFormat.Float32) { throw new CliException($"{bin}: {e.Message}"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{outDir}: cannot write ({e.Message})"); }

        TokenFormerConfig c = plan.Config;
        var dtypes = ckpt.Tensors.GroupBy(t => t.DType).Select(g => $"{g.Count()} {g.Key}");
        foreach (string note in plan.Config.Assumptions.Concat(plan.Notes)) Console.WriteLine($"note: {note}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"read {ckpt.Tensors.Count} tensors ({string.Join(", ", dtypes)}; {ckpt.Storages.Count} storage(s)) from {bin}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"config: {configSource} → L{c.NumLayers} d{c.HiddenSize} heads {c.NumAttentionHeads} n_qkv/proj/ffn {c.QkvSlotNum}/{c.ProjSlotNum}/{c.FfnSlotNum} vocab {c.Vocab}, {c.NormActivationType}, rotary {c.RotaryPct}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {outDir}: config.json, model.safetensors ({written.ParameterCount:N0} parameters, {WeightFormats.Name(format)}, {new FileInfo(Path.Combine(outDir, ModelDirectory.WeightsFile)).Length / 1e6:N1} MB){(tokPath != null ? ", tokenizer.json" : "")} " +
            $"in {watch.Elapsed.TotalSeconds:F2} s (open and check {checkSeconds:F2} s, copy {written.Seconds:F2} s)"));
        if (tokPath == null)
            Console.WriteLine($"note: no tokenizer.json found beside {bin}; copy the release's tokenizer.json into {outDir} (or re-run with --tokenizer) before 'eval --text' or 'generate'");
        return 0;
    }

    private static TorchCheckpoint OpenCheckpoint(string path)
    {
        try { return TorchCheckpoint.Open(path); }
        catch (PyTorchFormatException e) { throw new CliException(e.Message); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{path}: cannot read ({e.Message})"); }
    }
}
