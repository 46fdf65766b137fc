using System.CommandLine;
using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Export.Onnx;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer export --model DIR --format onnx --out model.onnx</c>: the model as one ONNX graph with its KV cache as
/// explicit inputs and outputs, for ONNX Runtime and other ONNX consumers (docs/onnx.md). float32 models only.
/// </summary>
public static class ExportCommand
{
    /// <summary>Export formats.</summary>
    public static readonly string[] Formats = ["onnx"];

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "float32 model directory (config.json + model.safetensors)", Required = true };
        var format = new Option<string>("--format") { Description = "Export format: onnx", Required = true };
        var output = new Option<string>("--out") { Description = "Output file (e.g. model.onnx); written through a temporary file", Required = true };
        var lastOnly = new Option<bool>("--last-logits-only") { Description = "Output logits of the last position of each sequence only ([batch, 1, vocab]) instead of every position" };
        var external = new Option<bool>("--external-data") { Description = "Write the weights to OUT.data beside the graph (needed above protobuf's 2 GiB; chosen automatically then)" };
        var cmd = new Command("export",
            "Export a float32 model as an ONNX graph (opset 17): input_ids and position_ids, past key/value per layer in; logits and " +
            "present key/value per layer out, so one graph serves prefill and decode. See docs/onnx.md.")
        { model, format, output, lastOnly, external };
        cmd.SetAction(parse =>
        {
            string f = parse.GetValue(format)!;
            if (!Formats.Contains(f))
                throw new CliException($"--format '{f}' is not an export format; supported: {string.Join(", ", Formats)}");
            string outPath = parse.GetValue(output)!;
            string? outDir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (outDir is null || !Directory.Exists(outDir)) throw new CliException($"--out {outPath}: the folder {outDir} does not exist");
            if (Directory.Exists(outPath)) throw new CliException($"--out {outPath} is a folder; name the .onnx file to write");
            string source = GrowCommand.ResolveModelDirectory(parse.GetValue(model)!, "--model");
            TokenFormerModel m;
            try { m = ModelDirectory.Load(source); }
            catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException) { throw new CliException(e.Message); }
            var started = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                var options = new OnnxExportOptions { LastPositionLogitsOnly = parse.GetValue(lastOnly) };
                OnnxModel graph = OnnxExporter.Build(m, options);
                bool useExternal = parse.GetValue(external) || graph.InlineSize > OnnxExporter.InlineLimitBytes;
                string? dataName = useExternal ? Path.GetFileName(outPath) + ".data" : null;
                graph.Save(outPath, dataName);
                long bytes = new FileInfo(outPath).Length + (dataName is null ? 0 : new FileInfo(Path.Combine(outDir, dataName)).Length);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"exported {source} ({m.Layout.Count:N0} parameters, {m.Config.NumLayers} layers, {m.Config.NormActivationType}) to {outPath}" +
                    $"{(dataName is null ? "" : $" with weights in {dataName}")}: {graph.Nodes.Count} nodes, {bytes / 1e6:F1} MB, opset {graph.Opset}, " +
                    $"in {started.Elapsed.TotalSeconds:F1} s"));
            }
            catch (OnnxExportException e) { throw new CliException($"{source}: {e.Message}"); }
            return 0;
        });
        return cmd;
    }
}
