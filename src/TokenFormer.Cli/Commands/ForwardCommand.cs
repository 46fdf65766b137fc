using System.CommandLine;
using System.Globalization;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer forward</c>: runs a model directory on one sequence of token ids and writes the logits
/// (<c>logits</c> [T, V] float32) and, with targets, the mean cross-entropy (<c>loss</c>, shape []) to a safetensors file.
/// </summary>
public static class ForwardCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory (config.json + model.safetensors)", Required = true };
        var ids = new Option<string?>("--ids") { Description = "Comma-separated token ids, e.g. 1,2,3" };
        var idsFile = new Option<string?>("--ids-file") { Description = "File of token ids separated by commas or whitespace" };
        var targets = new Option<string?>("--targets") { Description = "Comma-separated target ids (one per input id); adds 'loss' to the output" };
        var targetsFile = new Option<string?>("--targets-file") { Description = "File of target ids (commas or whitespace)" };
        var output = new Option<string>("--out") { Description = "Output safetensors file", Required = true };
        var adapterOption = AdapterCommands.AdapterOption();
        var cmd = new Command("forward", "Run a model on token ids and write logits [T, V] (and the loss when targets are given) as safetensors.")
        {
            model, ids, idsFile, targets, targetsFile, output, adapterOption,
        };
        cmd.SetAction(parse =>
        {
            int[] inputIds = ReadIds(parse.GetValue(ids), parse.GetValue(idsFile), "--ids", "--ids-file", required: true)!;
            int[]? targetIds = ReadIds(parse.GetValue(targets), parse.GetValue(targetsFile), "--targets", "--targets-file", required: false);
            if (targetIds != null && targetIds.Length != inputIds.Length)
                throw new CliException($"--targets has {targetIds.Length} ids but the input has {inputIds.Length}; give one target per input id");
            TokenFormerModel m;
            try { m = ModelDirectory.Load(parse.GetValue(model)!); }
            catch (Exception e) when (e is ModelFormatException or TokenFormerConfigException) { throw new CliException(e.Message); }
            ConfigNotes.Print(m.Config);
            m = AdapterCommands.Merged(m, parse.GetValue(model)!, parse.GetValue(adapterOption));
            if (inputIds.Length > m.Config.MaxPositionEmbeddings)
                throw new CliException($"{inputIds.Length} input ids exceed max_position_embeddings {m.Config.MaxPositionEmbeddings}");
            Check(inputIds, m.Vocab, "input");
            if (targetIds != null) Check(targetIds, m.Vocab, "target");
            var runner = new ModelRunner(m, 1, inputIds.Length, training: false);
            runner.Forward(inputIds);
            float[] logits = runner.Logits.ToArray();
            var writer = new SafeTensorsWriter();
            writer.Metadata["generator"] = "tokenformer forward";
            writer.AddFloat32("logits", logits, inputIds.Length, m.Vocab);
            if (targetIds != null)
            {
                float loss = runner.Forward(inputIds, targetIds);
                writer.AddFloat32("loss", new[] { loss });
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss {loss:F6}"));
            }
            string path = parse.GetValue(output)!;
            try { writer.Save(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{path}: cannot write ({e.Message})"); }
            Console.WriteLine($"wrote {path}: logits [{inputIds.Length}, {m.Vocab}]{(targetIds != null ? " and loss" : "")}");
            return 0;
        });
        return cmd;
    }

    private static void Check(int[] ids, int vocab, string what)
    {
        for (int i = 0; i < ids.Length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new CliException($"{what} id {ids[i]} at position {i} is outside the model's vocabulary [0, {vocab})");
    }

    private static int[]? ReadIds(string? inline, string? file, string inlineName, string fileName, bool required)
    {
        if (inline != null && file != null) throw new CliException($"give either {inlineName} or {fileName}, not both");
        string? text = inline;
        string source = inlineName;
        if (file != null)
        {
            if (!File.Exists(file)) throw new CliException($"{file}: file not found ({fileName})");
            text = File.ReadAllText(file);
            source = file;
        }
        if (text == null)
        {
            if (required) throw new CliException($"give the token ids with {inlineName} 1,2,3 or {fileName} FILE");
            return null;
        }
        string[] parts = text.Split([',', ' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new CliException($"{source}: no token ids found");
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out result[i]))
                throw new CliException($"{source}: '{parts[i]}' (item {i}) is not an integer token id");
        return result;
    }
}
