using System.Text.Json;
using System.Text.Json.Serialization;

namespace TokenFormer.Text.Data;

/// <summary>
/// <c>meta.json</c> of a prepared data directory: which tokenizer made the streams (SHA-256 of its canonical JSON,
/// <see cref="Tokenizer.ContentHash"/>), the item type of <c>train.bin</c> / <c>val.bin</c> and the counts.
/// </summary>
public sealed class DatasetMeta
{
    /// <summary>File name inside a data directory.</summary>
    public const string FileName = "meta.json";
    /// <summary>The tokenizer copy inside a data directory.</summary>
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>Version of this file's layout.</summary>
    [JsonPropertyName("format_version")] public int FormatVersion { get; set; } = 1;
    /// <summary>Content hash of the tokenizer the data was prepared with (see Tokenizer.ContentHash).</summary>
    [JsonPropertyName("tokenizer_hash")] public string TokenizerHash { get; set; } = "";
    /// <summary>The tokenizer's vocabulary size.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; }
    /// <summary>Id of the end-of-text token appended after every document.</summary>
    [JsonPropertyName("end_of_text_id")] public int EndOfTextId { get; set; }
    /// <summary>"uint16" or "uint32".</summary>
    [JsonPropertyName("dtype")] public string DType { get; set; } = "uint16";
    /// <summary>Tokens in the train split.</summary>
    [JsonPropertyName("train_tokens")] public long TrainTokens { get; set; }
    /// <summary>Tokens in the validation split.</summary>
    [JsonPropertyName("val_tokens")] public long ValTokens { get; set; }
    /// <summary>Documents in the train split.</summary>
    [JsonPropertyName("train_documents")] public long TrainDocuments { get; set; }
    /// <summary>Documents in the validation split.</summary>
    [JsonPropertyName("val_documents")] public long ValDocuments { get; set; }
    /// <summary>Documents left out because they were empty.</summary>
    [JsonPropertyName("empty_documents_skipped")] public long EmptyDocuments { get; set; }
    /// <summary>The fraction of documents asked for validation.</summary>
    [JsonPropertyName("val_fraction")] public double ValFraction { get; set; }
    /// <summary>
    /// How validation was held out: "documents" (every document whole in one split, evenly spaced) or "tokens" (the
    /// document split left too few validation tokens, e.g. one big file is one document, so the last
    /// <see cref="ValTailTokens"/> tokens of the training stream were moved to validation after its documents).
    /// </summary>
    [JsonPropertyName("val_split")] public string ValSplit { get; set; } = "documents";
    /// <summary>Tokens moved from the end of the training stream to validation ("tokens" split); 0 otherwise.</summary>
    [JsonPropertyName("val_tail_tokens")] public long ValTailTokens { get; set; }
    /// <summary>How the input was cut into documents: "file" or "blank-line".</summary>
    [JsonPropertyName("document_boundary")] public string DocumentBoundary { get; set; } = "file";
    /// <summary>Bytes of input read.</summary>
    [JsonPropertyName("input_bytes")] public long InputBytes { get; set; }
    /// <summary>The input files, as given.</summary>
    [JsonPropertyName("inputs")] public List<string> Inputs { get; set; } = [];

    /// <summary>Bytes per token in the streams.</summary>
    [JsonIgnore]
    public int ItemSize => DType switch
    {
        "uint16" => 2,
        "uint32" => 4,
        _ => throw new DataFormatException($"meta.json: dtype '{DType}' is not uint16 or uint32"),
    };

    /// <summary>Stream file name of a split ("train" or "val").</summary>
    public static string StreamFile(string split) => split + ".bin";

    /// <summary>Tokens in <paramref name="split"/>.</summary>
    public long Tokens(string split) => split switch
    {
        "train" => TrainTokens,
        "val" => ValTokens,
        _ => throw new DataFormatException($"unknown split '{split}' (expected train or val)"),
    };

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    /// <summary>Reads <c>DIR/meta.json</c>; errors name the file and field.</summary>
    public static DatasetMeta Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!Directory.Exists(directory)) throw new DataFormatException($"{directory}: data directory not found");
        if (!File.Exists(path)) throw new DataFormatException($"{path}: file not found (make the data directory with 'tokenformer prepare')");
        DatasetMeta meta;
        try { meta = JsonSerializer.Deserialize<DatasetMeta>(File.ReadAllText(path), Options) ?? throw new DataFormatException($"{path}: empty"); }
        catch (JsonException e) { throw new DataFormatException($"{path}: {e.Message}"); }
        if (meta.FormatVersion != 1) throw new DataFormatException($"{path}: format_version {meta.FormatVersion} is not supported (expected 1)");
        if (string.IsNullOrEmpty(meta.TokenizerHash)) throw new DataFormatException($"{path}: field tokenizer_hash is missing");
        if (meta.VocabSize <= 0) throw new DataFormatException($"{path}: field vocab_size must be positive");
        _ = meta.ItemSize;
        return meta;
    }

    /// <summary>Writes <c>DIR/meta.json</c> via a temporary file and rename.</summary>
    public void Save(string directory)
    {
        string path = Path.Combine(directory, FileName);
        string temp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temp, JsonSerializer.Serialize(this, Options) + "\n");
        File.Move(temp, path, overwrite: true);
    }
}
