using TokenFormer.Model;
using TokenFormer.Model.Inference;
using TokenFormer.Text;

namespace TokenFormer.Cli.Generation;

/// <summary>One prompt's result: generated ids (a stop id excluded), the text (cut before a stop string), why it ended, prompt length.</summary>
public sealed record TextCompletion(int[] Ids, string Text, string FinishReason /* "stop" or "length" */, int PromptTokens);

/// <summary>
/// Text in, text out: encodes prompts with the model's tokenizer (an empty prompt becomes the end-of-text token,
/// docs/architecture.md, Generation), generates with a <see cref="Generator"/>, and streams decoded text with stop strings
/// (<see cref="TextStream"/>). Errors: <see cref="ArgumentException"/> for a bad request (too many prompts, a prompt
/// longer than the context, sampling values out of range). Not thread-safe.
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

    /// <summary>A generator for up to <paramref name="maxBatch"/> prompts at once; maxLength 0 = the model's context.</summary>
    public TextGenerator(TokenFormerModel model, Tokenizer tokenizer, int maxBatch = 1, int maxLength = 0)
    {
        Model = model;
        Tokenizer = tokenizer;
        Generator = new Generator(model, maxBatch, maxLength);
    }

    /// <summary>Model dir with config.json, model.safetensors and tokenizer.json; CliException naming the file when one is missing.</summary>
    public static TextGenerator Load(string modelDirectory, int maxBatch = 1, int maxLength = 0)
    {
        TokenFormerModel model = LoadModel(modelDirectory);
        Tokenizer tokenizer = LoadTokenizer(modelDirectory);
        if (tokenizer.VocabSize > model.Vocab)
            throw new CliException($"{Path.Combine(modelDirectory, TokenizerFile)}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {model.Vocab}");
        try { return new TextGenerator(model, tokenizer, maxBatch, maxLength); }
        catch (ArgumentException e) { throw new CliException($"{modelDirectory}: {e.Message}"); }
    }

    /// <summary>Loads config.json + model.safetensors; CliException naming the file on a missing or bad file.</summary>
    public static TokenFormerModel LoadModel(string modelDirectory)
    {
        if (!Directory.Exists(modelDirectory)) throw new CliException($"{modelDirectory}: model directory not found");
        foreach (string f in new[] { ModelDirectory.ConfigFile, ModelDirectory.WeightsFile })
            if (!File.Exists(Path.Combine(modelDirectory, f)))
                throw new CliException($"{Path.Combine(modelDirectory, f)}: file not found (a model directory holds {ModelDirectory.ConfigFile}, {ModelDirectory.WeightsFile} and {TokenizerFile})");
        TokenFormerModel model;
        try { model = ModelDirectory.Load(modelDirectory); }
        catch (ModelFormatException e) { throw new CliException(e.Message); }
        Commands.ConfigNotes.Print(model.Config);
        return model;
    }

    /// <summary>Loads the directory's tokenizer.json; CliException naming the file when missing or invalid.</summary>
    public static Tokenizer LoadTokenizer(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, TokenizerFile);
        if (!File.Exists(path)) throw new CliException($"{path}: file not found (text prompts need the model's tokenizer.json next to config.json)");
        try { return Tokenizer.Load(path); }
        catch (TokenizerFormatException e) { throw new CliException(e.Message); }
    }

    /// <summary>Prompt ids of <paramref name="prompt"/>: the encoding, or [end-of-text] (else [0]) when it is empty.</summary>
    public int[] EncodePrompt(string prompt)
    {
        int[] ids = Tokenizer.Encode(prompt);
        return ids.Length > 0 ? ids : [Tokenizer.EndOfTextId ?? 0];
    }

    /// <summary>onText(promptIndex, piece): decoded text as it becomes complete UTF-8 (never half a character). Stop strings end
    /// the sequence and are not included in Text. Not thread-safe.</summary>
    public TextCompletion[] Complete(IReadOnlyList<string> prompts, SamplingOptions options,
        IReadOnlyList<string>? stopStrings = null, Action<int, string>? onText = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var ids = new int[prompts.Count][];
        for (int i = 0; i < ids.Length; i++) ids[i] = EncodePrompt(prompts[i] ?? throw new ArgumentException($"prompt {i} is null"));
        return CompleteIds(ids, options, stopStrings, onText, cancel);
    }

    /// <summary>As <see cref="Complete"/> for prompts already given as token ids.</summary>
    public TextCompletion[] CompleteIds(IReadOnlyList<int[]> prompts, SamplingOptions options,
        IReadOnlyList<string>? stopStrings = null, Action<int, string>? onText = null, CancellationToken cancel = default)
    {
        var streams = new TextStream[prompts.Count];
        for (int i = 0; i < streams.Length; i++) streams[i] = new TextStream(Tokenizer, stopStrings);
        var stopIds = new HashSet<int>(options.StopIds);
        int[][] generated = Generator.Generate(prompts, options, (i, id) =>
        {
            if (stopIds.Contains(id)) return false;
            string piece = streams[i].Append(id);
            if (piece.Length > 0) onText?.Invoke(i, piece);
            return !streams[i].Stopped;
        }, cancel);
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
