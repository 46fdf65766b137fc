using System.Runtime.CompilerServices;
using System.Threading.Channels;
using TokenFormer.Runtime.Generation;
using TokenFormer.Model;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Inference;
using TokenFormer.Model.Training;
using TokenFormer.Text;

namespace TokenFormer.Runtime;

/// <summary>
/// A TokenFormer with its tokenizer, the one type a C# program needs: <see cref="Load"/> a model directory,
/// <see cref="Generate"/> or stream (<see cref="GenerateAsync"/>) text with stop strings and cancellation,
/// <see cref="Score"/> a text (perplexity), <see cref="Train"/> a few steps in place with callbacks (files only when a
/// run directory is given), <see cref="Grow(double, GrowthMode, int)"/> by appending parameter tokens, and <see cref="Save"/>.
/// Operations on one instance run one at a time (a later call waits for the running one); the KV cache for
/// generation is allocated on first use and kept. Errors are the libraries' typed exceptions:
/// <see cref="ModelFormatException"/> and <see cref="TokenizerFormatException"/> (a file, naming it),
/// <see cref="InvalidSettingException"/> (a setting, naming its property), <see cref="GrowthException"/>,
/// <see cref="TrainingDivergedException"/>, and <see cref="OperationCanceledException"/> on cancellation.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TextGenerator? _generator;

    /// <summary>The model (its parameters change in place when it is trained).</summary>
    public TokenFormerModel Model { get; }
    /// <summary>The tokenizer.</summary>
    public Tokenizer Tokenizer { get; }
    /// <summary>The directory it was loaded from or last saved to (null: only in memory).</summary>
    public string? Directory { get; private set; }
    /// <summary>Most positions per sequence (prompt + generated tokens): the config's max_position_embeddings.</summary>
    public int ContextLength => Model.Config.MaxPositionEmbeddings;

    /// <summary>A model and its tokenizer; the tokenizer's ids must fit the model's vocabulary (else <see cref="ArgumentException"/>).</summary>
    public LanguageModel(TokenFormerModel model, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabSize > model.Vocab)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {model.Vocab}");
        Model = model;
        Tokenizer = tokenizer;
    }

    /// <summary>
    /// Loads a model directory: config.json, model.safetensors and tokenizer.json (as written by <c>tokenformer train</c>,
    /// <c>grow</c>, <c>import</c> or <see cref="Save"/>). A missing or inconsistent file throws
    /// <see cref="ModelFormatException"/> naming it; an invalid tokenizer.json, <see cref="TokenizerFormatException"/>.
    /// </summary>
    public static LanguageModel Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        TokenFormerModel model = TextGenerator.LoadModel(directory);
        Tokenizer tokenizer = TextGenerator.LoadTokenizer(directory);
        if (tokenizer.VocabSize > model.Vocab)
            throw new ModelFormatException($"{Path.Combine(directory, TextGenerator.TokenizerFile)}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {model.Vocab}");
        return new LanguageModel(model, tokenizer) { Directory = directory };
    }

    /// <summary>
    /// Generates a continuation of <paramref name="prompt"/> (an empty prompt starts from the end-of-text token) and returns
    /// it whole: the text without the prompt, cut before a stop string. Cancellation throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public TextCompletion Generate(string prompt, GenerationSettings? settings = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        settings ??= new GenerationSettings();
        _gate.Wait(cancel);
        try { return Complete(prompt, settings, null, cancel); }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// Streams the continuation of <paramref name="prompt"/> as it is generated: each piece is complete UTF-8 text (never
    /// half a character), a stop string ends the stream and is not part of it, and the pieces joined equal
    /// <see cref="Generate"/>'s text for the same settings. Generation runs on a worker thread; cancelling
    /// <paramref name="cancel"/> stops it between tokens and the enumeration throws <see cref="OperationCanceledException"/>;
    /// leaving the enumeration early stops it too. The instance is busy until the enumeration ends: call no other method
    /// of it from inside the loop.
    /// </summary>
    public async IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationSettings? settings = null,
        [EnumeratorCancellation] CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        settings ??= new GenerationSettings();
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            Task work = Task.Run(() =>
            {
                try { Complete(prompt, settings, piece => pieces.Writer.TryWrite(piece), stop.Token); }
                finally { pieces.Writer.TryComplete(); }
            }, CancellationToken.None);
            try
            {
                await foreach (string piece in pieces.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    yield return piece;
                    cancel.ThrowIfCancellationRequested();   // no piece after the consumer cancelled, even one already made
                }
                await work.ConfigureAwait(false);    // rethrows a failure or the cancellation
            }
            finally
            {
                // the consumer left early (or failed): stop the worker and wait, so the generator is free again
                stop.Cancel();
                try { await work.ConfigureAwait(false); }
                catch (Exception) when (!work.IsCompletedSuccessfully) { }
            }
        }
        finally { _gate.Release(); }
    }

    private TextCompletion Complete(string prompt, GenerationSettings settings, Action<string>? onText, CancellationToken cancel)
    {
        SamplingOptions options = settings.ToSamplingOptions(Tokenizer.EndOfTextId is int eot && eot < Model.Vocab ? eot : null);
        _generator ??= new TextGenerator(Model, Tokenizer);
        int[] ids = _generator.EncodePrompt(prompt);
        if (ids.Length + options.MaxNewTokens > _generator.Generator.MaxLength)
            throw new InvalidSettingException(nameof(GenerationSettings.MaxNewTokens),
                $"does not fit: the prompt has {ids.Length} tokens, and prompt plus new tokens may be at most the context length {_generator.Generator.MaxLength}",
                options.MaxNewTokens);
        Action<int, string>? onPiece = onText == null ? null : (_, piece) => onText(piece);
        return _generator.CompleteIds([ids], options, settings.StopStrings, onPiece, cancel)[0];
    }

    /// <summary>
    /// Scores <paramref name="text"/> as <c>tokenformer eval --text</c> does: the mean next-token loss and perplexity over
    /// non-overlapping windows of <paramref name="sequence"/> tokens (null: min(256, context, tokens − 1)), in batches of
    /// <paramref name="batch"/> windows. See <see cref="TextScorer"/>.
    /// </summary>
    public TextScore Score(string text, int? sequence = null, int batch = 8)
    {
        ArgumentNullException.ThrowIfNull(text);
        _gate.Wait();
        try { return TextScorer.Score(Model, Tokenizer.Encode(text), sequence, batch); }
        finally { _gate.Release(); }
    }

    /// <summary>Perplexity of <paramref name="text"/> (<see cref="Score"/> with its defaults).</summary>
    public double Perplexity(string text) => Score(text).Perplexity;

    /// <summary>
    /// Trains the model in place on <paramref name="text"/> (encoded with the tokenizer) for
    /// <see cref="TrainingOptions.Steps"/> optimiser steps: random windows of <see cref="TrainingOptions.Sequence"/> + 1
    /// tokens, AdamW with warmup + cosine from fresh optimiser state. <paramref name="onStep"/> gets every step's figures.
    /// Evaluation runs every <see cref="TrainingOptions.EvalEvery"/> steps only when <paramref name="validationText"/> is
    /// given (<paramref name="onEvaluation"/> gets the figures). Nothing is written unless <paramref name="runDirectory"/>
    /// is given: then metrics.jsonl, loss.svg and checkpoints go there as with <c>tokenformer train</c>. Cancelling
    /// <paramref name="cancel"/> ends the run after the current step (the report says <see cref="TrainingReport.Finished"/> false).
    /// </summary>
    public TrainingReport Train(string text, TrainingOptions options, Action<StepMetrics>? onStep = null,
        string? validationText = null, Action<EvalMetrics>? onEvaluation = null, string? runDirectory = null,
        CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        if (validationText == null) options = options with { EvalEvery = 0 };
        var train = new ArrayTokenSource(Tokenizer.Encode(text));
        ArrayTokenSource? val = validationText != null ? new ArrayTokenSource(Tokenizer.Encode(validationText)) : null;
        var context = new TrainerContext { Stop = cancel, OnStep = onStep, OnEvaluation = onEvaluation };
        _gate.Wait(CancellationToken.None);
        try
        {
            using Trainer trainer = Trainer.StartFrom(Model, options, train, val, runDirectory, context, Directory);
            _generator = null; // the weights change: a generator built later reads them afresh
            TrainingResult result = trainer.Run();
            return new TrainingReport(result.Step, trainer.StepRecords.ToArray(), trainer.EvalRecords.ToArray(), result.LastCheckpoint, result.Finished);
        }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// A grown copy: every Pattention's parameter-token count multiplied by <paramref name="factor"/> (&gt; 1, rounded).
    /// With <see cref="GrowthMode.Preserve"/> (the default) the grown model computes the same function for the
    /// l2_norm_gelu and gelu_l2_norm normalisations. This model is not changed.
    /// </summary>
    public LanguageModel Grow(double factor, GrowthMode mode = GrowthMode.Preserve, int seed = 1234)
    {
        if (!(factor > 1) || !double.IsFinite(factor)) throw new InvalidSettingException("Factor", "must be a number greater than 1", factor);
        return Grow(TokenCounts.Of(Model.Config).Scale(factor), mode, seed);
    }

    /// <summary>A grown copy with the given token counts per Pattention (each at least the current one); see <see cref="ModelGrower"/>.</summary>
    public LanguageModel Grow(TokenCounts tokens, GrowthMode mode = GrowthMode.Preserve, int seed = 1234)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        TokenCounts old = TokenCounts.Of(Model.Config);
        foreach (var (name, from, to) in new[] { (nameof(TokenCounts.Qkv), old.Qkv, tokens.Qkv), (nameof(TokenCounts.Proj), old.Proj, tokens.Proj), (nameof(TokenCounts.Ffn), old.Ffn, tokens.Ffn) })
            if (to < from) throw new InvalidSettingException(name, $"must be at least the model's {from} tokens (growth only appends tokens)", to);
        _gate.Wait();
        try
        {
            string source = Directory != null ? Path.GetFullPath(Directory) : "(in memory)";
            return new LanguageModel(ModelGrower.Grow(Model, new GrowthOptions(tokens, mode, seed, source)), Tokenizer);
        }
        finally { _gate.Release(); }
    }

    /// <summary>Writes a model directory (config.json, model.safetensors, tokenizer.json), each file through a temporary file and a rename.</summary>
    public void Save(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        _gate.Wait();
        try
        {
            ModelDirectory.Save(Model, directory);
            Tokenizer.Save(Path.Combine(directory, TextGenerator.TokenizerFile));
            Directory = directory;
        }
        finally { _gate.Release(); }
    }

    /// <summary>Releases the lock object; the model and its caches are ordinary managed memory.</summary>
    public void Dispose() => _gate.Dispose();
}
