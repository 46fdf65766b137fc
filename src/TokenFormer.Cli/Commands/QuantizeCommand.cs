using System.CommandLine;
using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer quantize</c>: converts a float32 model directory to bf16 or blocked int8 weights for inference
/// (docs/quantization.md); the result runs with generate, eval, forward and serve, and is refused by train and grow.
/// </summary>
public static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "float32 model directory (config.json + model.safetensors)", Required = true };
        var to = new Option<string>("--to") { Description = "Target weight format: bf16, int8 or int4 (int8 and int4: blocks of 32 with a float32 scale each; int4 is smaller and less exact)", Required = true };
        var output = new Option<string>("--out") { Description = "Output model directory (config.json with weight_format, model.safetensors, the tokenizer.json copied)", Required = true };
        var cmd = new Command("quantize",
            "Store a model's weights in bf16, int8 or int4 (blocks of 32 along each product's reduction dimension, one scale per block) " +
            "for faster, smaller inference; see docs/quantization.md.") { model, to, output };
        cmd.SetAction(parse =>
        {
            string source = parse.GetValue(model)!, outDir = parse.GetValue(output)!;
            if (!WeightFormats.TryParse(parse.GetValue(to), out WeightFormat format) || format == WeightFormat.Float32)
                throw new CliException($"--to '{parse.GetValue(to)}' is not a reduced-precision format; use bf16, int8 or int4");
            if (Path.GetFullPath(source).TrimEnd('/') == Path.GetFullPath(outDir).TrimEnd('/'))
                throw new CliException($"--out {outDir} is the source directory; write the quantized model to another directory");
            source = GrowCommand.ResolveModelDirectory(source, "--model");
            TokenFormerModel m;
            try { m = ModelDirectory.Load(source); }
            catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException) { throw new CliException(e.Message); }
            if (m.ReducedWeights != null)
                throw new CliException($"{source} is already stored in {WeightFormats.Name(m.ReducedWeights.Format)}; quantize its float32 original");
            var started = System.Diagnostics.Stopwatch.StartNew();
            ReducedPrecisionWeights w;
            try { w = ReducedPrecisionWeights.From(m, format); }
            catch (ArgumentException e) { throw new CliException($"{source}: {e.Message}"); }
            long fp32Bytes = 4L * m.Parameters.LongLength;
            var quantized = new TokenFormerModel(m.Config, w);
            string tokenizer = Path.Combine(source, DatasetMeta.TokenizerFile);
            try { OutputFolder.Write(outDir, () => GrowCommand.SaveModelDirectory(quantized, outDir, File.Exists(tokenizer) ? tokenizer : null)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{outDir}: cannot write ({e.Message})"); }
            long fileBytes = new FileInfo(Path.Combine(outDir, ModelDirectory.WeightsFile)).Length;
            string note = File.Exists(tokenizer) ? "" : "; no tokenizer.json beside the source model";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"quantized {source} to {WeightFormats.Name(format)} in {started.Elapsed.TotalSeconds:F1} s → {outDir}: weights {fp32Bytes / 1e6:F1} MB float32 → " +
                $"{w.MatrixBytes / 1e6:F1} MB ({(double)w.MatrixBytes / fp32Bytes:F3}×), model.safetensors {fileBytes / 1e6:F1} MB{note}"));
            return 0;
        });
        return cmd;
    }
}
