using TokenFormer.Runtime.Generation;
using TokenFormer.Model;
using TokenFormer.Model.Adapters;
using TokenFormer.Model.Inference;
using TokenFormer.Text;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// <see cref="ICompletionEngine"/> over the library's <see cref="TextGenerator"/> (KV-cached generation with the
/// model's tokenizer, streaming with stop strings): the server's thin layer. Generation ends at the tokenizer's
/// end-of-text token (finish "stop") when it has one.
/// </summary>
public sealed class TextGeneratorEngine : ICompletionEngine
{
    private readonly TextGenerator _generator;
    private readonly int[] _stopIds;
    private readonly List<string> _modelIds;
    private AdapterBank? _bank;

    /// <param name="generator">Used from the worker thread only.</param>
    /// <param name="modelId">Name reported in responses (e.g. the model directory's name).</param>
    public TextGeneratorEngine(TextGenerator generator, string modelId)
    {
        _generator = generator;
        ModelId = modelId;
        _modelIds = [modelId];
        _stopIds = generator.Tokenizer.EndOfTextId is int eot ? [eot] : [];
        MaxPromptChars = PromptCharsBound(generator.Tokenizer, ContextLength);
    }

    /// <summary>
    /// No token of <paramref name="tokenizer"/> stands for more than L characters (L = its longest vocabulary entry; a
    /// byte-level entry has one character per byte, so L bounds the UTF-8 bytes, hence the characters, of what one token
    /// covers), so a prompt of more than L × context characters needs more than the context. Doubled to leave room for
    /// normalizers that shorten text (composition).
    /// </summary>
    private static int PromptCharsBound(Tokenizer tokenizer, int context)
    {
        int longest = 1;
        for (int id = 0; id < tokenizer.VocabSize; id++)
            if (tokenizer.IdToToken(id) is { } t && t.Length > longest) longest = t.Length;
        return (int)Math.Min(int.MaxValue, 2L * longest * context);
    }

    /// <summary>
    /// Loads a model directory (config.json, model.safetensors, tokenizer.json) for batches of up to
    /// <paramref name="maxBatch"/>; the library's errors (a missing or bad file, a setting out of range) become
    /// <see cref="CliException"/> naming the file or the serve flag.
    /// </summary>
    public static TextGeneratorEngine Load(string modelDirectory, int maxBatch, int maxLength = 0)
    {
        TextGenerator generator;
        try { generator = TextGenerator.Load(modelDirectory, maxBatch, maxLength); }
        catch (Exception e) when (e is InvalidSettingException or ModelFormatException or TokenizerFormatException)
        {
            throw LibraryErrors.ToCli(e, ServeFlags);
        }
        Commands.ConfigNotes.Print(generator.Generator.Model.Config);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDirectory)));
        return new TextGeneratorEngine(generator, name.Length > 0 ? name : "tokenformer");
    }

    private static readonly Dictionary<string, string> ServeFlags = new() { ["MaxBatch"] = "--max-batch", ["MaxLength"] = "--max-length" };

    /// <summary>
    /// Serves the adapter of <paramref name="directory"/> on this engine's base as model <paramref name="name"/>
    /// (docs/adapters.md): prompts of the base and of every adapter share each batch and its base products.
    /// Refused (a <see cref="CliException"/>) when it was made for another base or the name is taken.
    /// </summary>
    public void AddAdapter(string directory, string name, string baseDirectory)
    {
        if (_modelIds.Contains(name)) throw new CliException($"--adapter {directory}: the model name '{name}' is already served; give adapters distinct directory names");
        Adapter adapter = Commands.AdapterCommands.Load(directory);
        try
        {
            if (_bank == null)
            {
                _bank = new AdapterBank(_generator.Generator.Model);
                _generator.Generator.Runner.Adapters = _bank;
            }
            _bank.Add(adapter, name, baseDirectory);
        }
        catch (AdapterFormatException e) { throw new CliException($"--adapter {directory}: {e.Message}"); }
        _modelIds.Add(name);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ModelIds => _modelIds;

    /// <inheritdoc/>
    public string ModelId { get; }
    public int ContextLength => _generator.Generator.MaxLength;
    public int MaxBatch => _generator.Generator.MaxBatch;
    public TextGenerator Generator => _generator;

    /// <inheritdoc/>
    public int MaxPromptChars { get; }

    /// <summary>Thread-safe: the tokenizer keeps its scratch state per thread.</summary>
    public int CountTokens(string prompt) => _generator.Tokenizer.Encode(prompt).Length;

    public EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel) =>
        Complete(prompts, new int[prompts.Count], settings, seed, onText, cancel, null);

    /// <inheritdoc/>
    public EngineCompletion[] Complete(IReadOnlyList<string> prompts, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel, IReadOnlyList<CancellationToken> promptCancel) =>
        Complete(prompts, new int[prompts.Count], settings, seed, onText, cancel, promptCancel);

    /// <inheritdoc/>
    public EngineCompletion[] Complete(IReadOnlyList<string> prompts, IReadOnlyList<int> models, CompletionSettings settings, int seed,
        Action<int, string>? onText, CancellationToken cancel, IReadOnlyList<CancellationToken>? promptCancel)
    {
        if (models.Count != prompts.Count) throw new ArgumentException($"{models.Count} model indices for {prompts.Count} prompts");
        for (int i = 0; i < models.Count; i++)
        {
            if ((uint)models[i] >= (uint)_modelIds.Count) throw new ArgumentException($"model index {models[i]} is not served (0 … {_modelIds.Count - 1})");
            // prompt i runs in cache slot i; slot bound to adapter models[i] − 1 (−1: the bare base)
            _bank?.SetSlot(i, models[i] - 1);
        }
        var options = new SamplingOptions
        {
            MaxNewTokens = settings.MaxTokens,
            Temperature = settings.Temperature,
            TopK = settings.TopK,
            TopP = settings.TopP,
            RepetitionPenalty = settings.RepetitionPenalty,
            Seed = seed,
            StopIds = _stopIds,
        };
        TextCompletion[] results = _generator.Complete(prompts, options, settings.Stop, onText, cancel, promptCancel);
        return results.Select(r => new EngineCompletion(r.Text, r.FinishReason, r.PromptTokens, r.Ids.Length)).ToArray();
    }
}
