using TokenFormer.Model;
using TokenFormer.Model.Inference;
using TokenFormer.Text;

namespace TokenFormer.Runtime.Generation;

/// <summary>
/// Text in, text out: encodes prompts with the model's tokenizer (an empty prompt becomes the end-of-text token, the
/// official models' document separator), generates with a <see cref="Generator"/> (KV cache for
/// <see cref="Generator.MaxBatch"/> × <see cref="Generator.MaxLength"/>), and streams decoded text with stop strings
/// (<see cref="TextStream"/>). Errors: <see cref="ModelFormatException"/> or <see cref="TokenizerFormatException"/> for a
/// bad model directory (naming the file), <see cref="InvalidSettingException"/> for settings out of range,
/// <see cref="ArgumentException"/> for a bad request (too many prompts, a prompt longer than the context).
/// Not thread-safe.
/// </summary>
public sealed class TextGenerator
{
    /// <summary>Tokenizer file name in a model directory.</summary>
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>The model.</summary>
    public TokenFormerModel Model { get; }
    /// <summary>The tokenizer.</summary>
    public Tokenizer Tokenizer { get; }
    /// <summary>The token generator (KV cache for MaxBatch × MaxLength).</summary>
    public Generator Generator { get; }

    /// <summary>
    /// A generator for up to <paramref name="maxBatch"/> prompts at once with <paramref name="maxLength"/> positions per
    /// sequence (0 = the model's max_position_embeddings). The tokenizer's ids must fit the model's vocabulary.
    /// </summary>
    public TextGenerator(TokenFormerModel model, Tokenizer tokenizer, int maxBatch = 1, int maxLength = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabSize > model.Vocab)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {model.Vocab}");
        if (maxBatch < 1) throw new InvalidSettingException("MaxBatch", "must be at least 1", maxBatch);
        int context = model.Config.MaxPositionEmbeddings;
        if (maxLength < 0 || maxLength > context)
            throw new InvalidSettingException("MaxLength", $"must be in [0, max_position_embeddings {context}]", maxLength, "0 = the model's context");
        Model = model;
        Tokenizer = tokenizer;
        Generator = new Generator(model, maxBatch, maxLength);
    }

    /// <summary>
    /// Loads a model directory with config.json, model.safetensors and tokenizer.json; <see cref="ModelFormatException"/>
    /// naming the file when one is missing or does not fit, <see cref="TokenizerFormatException"/> for a bad tokenizer.json.
    /// </summary>
    public static TextGenerator Load(string modelDirectory, int maxBatch = 1, int maxLength = 0)
    {
        TokenFormerModel model = LoadModel(modelDirectory);
        Tokenizer tokenizer = LoadTokenizer(modelDirectory);
        if (tokenizer.VocabSize > model.Vocab)
            throw new ModelFormatException($"{Path.Combine(modelDirectory, TokenizerFile)}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {model.Vocab}");
        return new TextGenerator(model, tokenizer, maxBatch, maxLength);
    }

    /// <summary>Loads config.json + model.safetensors; <see cref="ModelFormatException"/> naming the file on a missing or bad file.</summary>
    public static TokenFormerModel LoadModel(string modelDirectory)
    {
        if (!Directory.Exists(modelDirectory)) throw new ModelFormatException($"{modelDirectory}: model directory not found");
        foreach (string f in new[] { ModelDirectory.ConfigFile, ModelDirectory.WeightsFile })
            if (!File.Exists(Path.Combine(modelDirectory, f)))
                throw new ModelFormatException($"{Path.Combine(modelDirectory, f)}: file not found (a model directory holds {ModelDirectory.ConfigFile}, {ModelDirectory.WeightsFile} and {TokenizerFile})");
        return ModelDirectory.Load(modelDirectory);
    }

    /// <summary>Loads the directory's tokenizer.json; <see cref="ModelFormatException"/> when it is missing, <see cref="TokenizerFormatException"/> when invalid.</summary>
    public static Tokenizer LoadTokenizer(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, TokenizerFile);
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found (text prompts need the model's tokenizer.json next to config.json)");
        return Tokenizer.Load(path);
    }

    /// <summary>Prompt ids of <paramref name="prompt"/>: the encoding, or [end-of-text] (else [0]) when it is empty.</summary>
    public int[] EncodePrompt(string prompt)
    {
        int[] ids = Tokenizer.Encode(prompt);
        return ids.Length > 0 ? ids : [Tokenizer.EndOfTextId ?? 0];
    }

    /// <summary>
    /// Generates for each prompt. onText(promptIndex, piece) receives decoded text as it becomes complete UTF-8 (never
    /// half a character, never a tail that could still become a stop string). Stop strings end the sequence and are not
    /// included in the text. Cancellation throws <see cref="OperationCanceledException"/> between steps;
    /// <paramref name="sequenceCancel"/> (one token per prompt, optional) ends one sequence before its next step, the
    /// others going on (finish reason "cancelled"; <see cref="Generator.Generate"/>). Not thread-safe.
    /// </summary>
    public TextCompletion[] Complete(IReadOnlyList<string> prompts, SamplingOptions options,
        IReadOnlyList<string>? stopStrings = null, Action<int, string>? onText = null, CancellationToken cancel = default,
        IReadOnlyList<CancellationToken>? sequenceCancel = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var ids = new int[prompts.Count][];
        for (int i = 0; i < ids.Length; i++) ids[i] = EncodePrompt(prompts[i] ?? throw new ArgumentException($"prompt {i} is null"));
        return CompleteIds(ids, options, stopStrings, onText, cancel, sequenceCancel);
    }

    /// <summary>As <see cref="Complete"/> for prompts already given as token ids.</summary>
    public TextCompletion[] CompleteIds(IReadOnlyList<int[]> prompts, SamplingOptions options,
        IReadOnlyList<string>? stopStrings = null, Action<int, string>? onText = null, CancellationToken cancel = default,
        IReadOnlyList<CancellationToken>? sequenceCancel = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        var streams = new TextStream[prompts.Count];
        for (int i = 0; i < streams.Length; i++) streams[i] = new TextStream(Tokenizer, stopStrings);
        var stopIds = new HashSet<int>(options.StopIds);
        int[][] generated = Generator.Generate(prompts, options, (i, id) =>
        {
            if (stopIds.Contains(id)) return false;
            string piece = streams[i].Append(id);
            if (piece.Length > 0) onText?.Invoke(i, piece);
            return !streams[i].Stopped;
        }, cancel, sequenceCancel);
        var result = new TextCompletion[prompts.Count];
        for (int i = 0; i < result.Length; i++)
        {
            string rest = streams[i].Flush();
            if (rest.Length > 0) onText?.Invoke(i, rest);
            result[i] = new TextCompletion(generated[i], streams[i].Text, Generator.LastFinishReasons[i], prompts[i].Length);
        }
        return result;
    }
}
