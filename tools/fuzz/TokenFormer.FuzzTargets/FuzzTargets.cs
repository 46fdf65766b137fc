using System.Text;
using TokenFormer.Cli.Serve;
using TokenFormer.Core.PyTorch;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model;
using TokenFormer.Model.Adapters;
using TokenFormer.Runtime.Evaluation;
using TokenFormer.Text;
using TokenFormer.Text.Data;
using TokenFormer.Vision;
using TokenFormer.Vision.Data;

namespace TokenFormer.Fuzz;

/// <summary>
/// The fuzz targets, one per input format the product reads from outside (docs/reliability.md, Fuzzing). Each harness
/// calls the reader the product calls, then uses what it returned the way the product would (reads every tensor,
/// encodes and decodes text, reads every token), so that an input the reader accepts but cannot honour is caught too.
/// </summary>
public static class FuzzTargets
{
    private const long MiB = 1 << 20;

    /// <summary>Decoding (3 bytes per pixel) and converting (a float plane per channel, 12) cost about 16 bytes per
    /// pixel; the image target allows 24 per pixel its header declares.</summary>
    private const int BytesPerPixel = 24;

    /// <summary>Deflate expands at most 1032:1 and the decoder's output buffer grows by doubling, so compressed image data
    /// may legitimately cost this much per input byte before the decoder finds that it does not fit the image.</summary>
    private const int DeflateBytesPerInputByte = 2100;

    /// <summary>Tensors larger than this many elements per input byte are not read whole (a stride-0 view may legally
    /// describe far more elements than the file holds; the importer reads such tensors in parts).</summary>
    private const int MaxReadElementsPerInputByte = 4;

    /// <summary>Every target, by name.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("pickle", "the restricted unpickler (data.pkl of a PyTorch .bin), every storage of the right size",
            [typeof(PyTorchFormatException)], 4 * MiB, 256, Pickle),
        new("torch-zip", "a whole PyTorch .bin (stored zip, data.pkl, storages), then every tensor read as float32",
            [typeof(PyTorchFormatException)], 4 * MiB, 256, TorchZip),
        new("safetensors", "a .safetensors file, then every tensor read (float or integer)",
            [typeof(SafeTensorsFormatException)], 4 * MiB, 64, SafeTensors),
        new("config-json", "config.json (model config, unknown fields kept)",
            [typeof(TokenFormerConfigException)], 4 * MiB, 256, ConfigJson),
        new("config-yaml", "an official YAML config (the YAML subset, unknown fields kept)",
            [typeof(TokenFormerConfigException)], 4 * MiB, 256, ConfigYaml),
        new("tokenizer-json", "tokenizer.json, then an encode and decode of a fixed text and of the input's first 256 chars",
            [typeof(TokenizerFormatException)], 8 * MiB, 512, TokenizerJsonTarget),
        new("token-data", "a prepared data directory: meta.json up to the first NUL byte, train.bin after it; both splits read",
            [typeof(DataFormatException)], 4 * MiB, 64, TokenData),
        new("serve-completion", "the JSON body of POST /v1/completions",
            [typeof(ApiError)], 4 * MiB, 256, ServeCompletion),
        new("serve-chat", "the JSON body of POST /v1/chat/completions",
            [typeof(ApiError)], 4 * MiB, 256, ServeChat),
        new("model-dir", "a model directory: config.json up to the first NUL byte, model.safetensors after it (float32, bf16 or int8 by its weight_format), loaded, then a forward pass of 3 tokens",
            [typeof(ModelFormatException)], 8 * MiB, 64, ModelDir),
        new("adapter-dir", "an adapter directory: adapter_config.json up to the first NUL byte, adapter.safetensors after it, loaded (every row read)",
            [typeof(AdapterFormatException)], 4 * MiB, 64, AdapterDir),
        new("eval-data", "an evaluation data file (JSON Lines) up to the first NUL byte, a PIQA labels file after it, read as each task's data (every request, choice and gold answer used) and as perplexity documents",
            [typeof(EvalDataException)], 4 * MiB, 512, EvalData),
        new("idx", "an IDX (MNIST-family) image or label file",
            [typeof(VisionFormatException)], 4 * MiB, 16, Idx),
        new("image", "an image file (PNG, JPEG, BMP, GIF, TGA via StbImageSharp), then converted to 3×16×16",
            [typeof(VisionFormatException)], 4 * MiB, DeflateBytesPerInputByte, Image,
            input => BytesPerPixel * Math.Min(ImageLoader.DeclaredPixels(input) ?? 0, ImageLoader.MaxPixels),
            $"{BytesPerPixel} B per pixel the header declares (at most {ImageLoader.MaxPixels:N0} pixels)"),
    ];

    /// <summary>The target named <paramref name="name"/>; throws listing the names when there is none.</summary>
    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"no fuzz target '{name}'; the targets are {string.Join(", ", All.Select(t => t.Name))}", nameof(name));

    private static void Pickle(byte[] input, string scratch)
    {
        // Storages are whatever the persistent id names, sized by its numel, as TorchCheckpoint would find them in a
        // well-formed archive; the harness checks the same fields the checkpoint reader does before making one.
        var storages = new Dictionary<string, TorchStorage>(StringComparer.Ordinal);
        TorchStorage Load(PickleTuple pid, long position)
        {
            if (pid.Count != 5 || pid.Items[0] is not "storage" || pid.Items[1] is not PickleGlobal type
                || TorchDTypes.FromStorageName(type.Name) is not TorchDType dtype || pid.Items[2] is not string key
                || pid.Items[4] is not long numel || numel < 0 || numel > 1L << 40)
                throw new PyTorchFormatException($"fuzz.pkl at byte {position}: not a storage persistent id");
            if (!storages.TryGetValue(key, out TorchStorage? s))
                storages[key] = s = new TorchStorage(key, dtype, numel, new ZipEntry("archive/data/" + key, numel * TorchDTypes.ItemSize(dtype), 0));
            return s;
        }
        object? root = new RestrictedUnpickler(input, "fuzz.pkl", Load).Load();
        if (root is PickleDict dict)
            foreach (var (_, v) in dict.Items)
                if (v is TorchTensor t)
                {
                    _ = t.ElementCount;
                    _ = t.IsContiguous;
                }
    }

    private static void TorchZip(byte[] input, string scratch)
    {
        string path = WriteInput(scratch, "pytorch_model.bin", input);
        try
        {
            using TorchCheckpoint checkpoint = TorchCheckpoint.Open(path);
            foreach (TorchTensor t in checkpoint.Tensors)
            {
                if (t.ElementCount > Math.Max(1024L, (long)MaxReadElementsPerInputByte * input.Length)) continue;
                var values = new float[t.ElementCount];
                checkpoint.ReadFloat32(t, values);
            }
        }
        finally { File.Delete(path); }
    }

    private static void SafeTensors(byte[] input, string scratch)
    {
        string path = WriteInput(scratch, "model.safetensors", input);
        try
        {
            using SafeTensorsFile file = SafeTensorsFile.Open(path);
            foreach (SafeTensorInfo t in file.Tensors)
            {
                if (t.DType is SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F64)
                    _ = file.ReadFloat32(t.Name);
                else
                    _ = file.ReadInt64(t.Name);
            }
        }
        finally { File.Delete(path); }
    }

    private static void ConfigJson(byte[] input, string scratch) =>
        ConfigReader.FromJson(Utf8(input), "config.json", keepUnknownFields: true);

    private static void ConfigYaml(byte[] input, string scratch) =>
        ConfigReader.FromYaml(Utf8(input), "config.yml", keepUnknownFields: true);

    private const string SampleText = "Hello world! <|endoftext|> The state of the Union, 1790: ünïcödé, 123 456\n\tend.";

    private static void TokenizerJsonTarget(byte[] input, string scratch)
    {
        string text = Utf8(input);
        Tokenizer tokenizer = Tokenizer.FromJson(text, "tokenizer.json");
        foreach (string s in new[] { SampleText, text.Length > 256 ? text[..256] : text })
        {
            int[] ids = tokenizer.Encode(s);
            _ = tokenizer.Decode(ids);
            _ = tokenizer.Decode(ids, skipSpecialTokens: true);
        }
    }

    private static void TokenData(byte[] input, string scratch)
    {
        (byte[] meta, byte[] train) = SplitAtNul(input);
        string dir = Path.Combine(scratch, "data");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllBytes(Path.Combine(dir, DatasetMeta.FileName), meta);
            File.WriteAllBytes(Path.Combine(dir, "train.bin"), train);
            File.WriteAllBytes(Path.Combine(dir, "val.bin"), []);
            foreach (string split in new[] { "train", "val" })
            {
                using TokenDataset d = TokenDataset.Open(dir, split);
                var tokens = new int[d.Count];
                d.CopyTo(0, tokens);
                if (d.Count > 0) _ = d[d.Count - 1];
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // The server measures prompts with the model's tokenizer; one token per UTF-8 byte is as good a measure here.
    private static int CountTokens(string s) => Encoding.UTF8.GetByteCount(s);

    private static void ServeCompletion(byte[] input, string scratch) =>
        CompletionRequestParser.Parse(input, CountTokens, contextLength: 256, maxPrompts: 8);

    private static void ServeChat(byte[] input, string scratch) =>
        ChatRequestParser.Parse(input, ChatTemplate.Default, CountTokens, contextLength: 256);

    private static void ModelDir(byte[] input, string scratch) =>
        InFolder(input, scratch, ModelDirectory.ConfigFile, ModelDirectory.WeightsFile, dir =>
        {
            TokenFormerModel model = ModelDirectory.Load(dir);
            // what generate and eval do next: a forward pass over a few tokens of the vocabulary
            int[] tokens = [0, 1 % model.Vocab, (model.Vocab - 1) % model.Vocab];
            int n = Math.Min(tokens.Length, model.Config.MaxPositionEmbeddings);
            new ModelRunner(model, 1, n, training: false).Forward(tokens.AsSpan(0, n));
        });

    private static void AdapterDir(byte[] input, string scratch) =>
        InFolder(input, scratch, AdapterConfig.FileName, Adapter.WeightsFile, dir =>
        {
            Adapter adapter = Adapter.Load(dir);
            // what serving reads before it checks the base's hash: the counts, the base config, the rows
            _ = adapter.Config.Tokens.Qkv + adapter.Config.Tokens.Proj + adapter.Config.Tokens.Ffn;
            _ = adapter.Config.BaseModelConfig("adapter config").HiddenSize;
            _ = adapter.ParameterCount;
        });

    /// <summary>
    /// A directory format: the input's part before its first NUL byte written as <paramref name="first"/> and the part
    /// after it as <paramref name="second"/> into a fresh folder of <paramref name="scratch"/>, read by
    /// <paramref name="read"/>, then removed.
    /// </summary>
    private static void InFolder(byte[] input, string scratch, string first, string second, Action<string> read)
    {
        (byte[] a, byte[] b) = SplitAtNul(input);
        string dir = Path.Combine(scratch, "folder");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllBytes(Path.Combine(dir, first), a);
            File.WriteAllBytes(Path.Combine(dir, second), b);
            read(dir);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static void EvalData(byte[] input, string scratch)
    {
        (byte[] data, byte[] labels) = SplitAtNul(input);
        string dataPath = WriteInput(scratch, "valid.jsonl", data);
        string? labelsPath = Array.IndexOf(input, (byte)0) < 0 ? null : WriteInput(scratch, "valid-labels.lst", labels);
        try
        {
            EvalDataException? refused = null;
            bool accepted = false;
            foreach (EvalTask task in EvalTask.All)
            {
                IReadOnlyList<TaskItem> items;
                try { items = TaskReader.Read(task, dataPath); }
                catch (EvalDataException e) { refused ??= e; continue; }
                accepted = true;
                // what the evaluator does with an item: every request's text, the gold request and choice, each choice's length
                foreach (TaskItem item in items)
                {
                    foreach (LoglikelihoodRequest r in item.Requests) _ = r.Context.Length + r.Continuation.Length;
                    _ = item.Requests[item.Gold];
                    _ = item.Choices[item.Gold];
                    foreach (string c in item.Choices) _ = c.Length;
                }
            }
            // the documents of --task perplexity (a "page" or "text" per line) and of --task wikitext (a "page")
            foreach (bool pageOnly in new[] { false, true })
            {
                try
                {
                    foreach (string d in TaskReader.ReadDocuments(dataPath, pageOnly)) _ = d.Length;
                    accepted = true;
                }
                catch (EvalDataException e) { refused ??= e; }
            }
            if (!accepted) throw refused!;
        }
        finally
        {
            File.Delete(dataPath);
            if (labelsPath != null) File.Delete(labelsPath);
        }
    }

    /// <summary>The input before its first NUL byte and after it (all of it and nothing when it has none).</summary>
    private static (byte[] Before, byte[] After) SplitAtNul(byte[] input)
    {
        int nul = Array.IndexOf(input, (byte)0);
        return nul < 0 ? (input, []) : (input[..nul], input[(nul + 1)..]);
    }

    private static void Idx(byte[] input, string scratch)
    {
        string path = WriteInput(scratch, "images-idx3-ubyte", input);
        try { IdxReader.Read(path); }
        finally { File.Delete(path); }
    }

    private static void Image(byte[] input, string scratch)
    {
        string path = WriteInput(scratch, "image.png", input);
        try { ImageLoader.Load(path, channels: 3, size: 16); }
        finally { File.Delete(path); }
    }

    /// <summary>UTF-8 decoding as File.ReadAllText does it (invalid bytes become U+FFFD, a BOM is dropped).</summary>
    private static string Utf8(byte[] input)
    {
        using var reader = new StreamReader(new MemoryStream(input), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static string WriteInput(string scratch, string name, byte[] input)
    {
        string path = Path.Combine(scratch, name);
        File.WriteAllBytes(path, input);
        return path;
    }
}
